CREATE TABLE "points" (
	"series_id" bigint NOT NULL,
	"ts" timestamp with time zone NOT NULL,
	"value" double precision,
	"value_text" text,
	"tag" text,
	"description" text,
	"extra" jsonb,
	CONSTRAINT "points_pkey" PRIMARY KEY("series_id","ts"),
	CONSTRAINT "points_one_value_check" CHECK (num_nonnulls("points"."value", "points"."value_text") = 1)
) PARTITION BY RANGE ("ts");
--> statement-breakpoint
CREATE TABLE "series" (
	"id" uuid PRIMARY KEY NOT NULL,
	"key" bigint GENERATED ALWAYS AS IDENTITY (sequence name "series_key_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"organization_id" uuid NOT NULL,
	"object_type_id" uuid NOT NULL,
	"entity_id" uuid NOT NULL,
	"property_id" uuid NOT NULL,
	"component_id" uuid,
	"value_type" text NOT NULL,
	"unit_id" uuid,
	"created_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "series_key_key" UNIQUE("key"),
	CONSTRAINT "series_org_id_key" UNIQUE("organization_id","id"),
	CONSTRAINT "series_natural_key" UNIQUE NULLS NOT DISTINCT("organization_id","entity_id","property_id","component_id"),
	CONSTRAINT "series_value_type_check" CHECK ("series"."value_type" in ('number', 'text'))
);
--> statement-breakpoint
ALTER TABLE "entities" ADD CONSTRAINT "entities_org_id_type_key" UNIQUE("organization_id","id","object_type_id");--> statement-breakpoint
ALTER TABLE "object_type_properties" ADD CONSTRAINT "object_type_properties_org_type_id_key" UNIQUE("organization_id","object_type_id","id");--> statement-breakpoint
ALTER TABLE "series" ADD CONSTRAINT "series_entity_fk" FOREIGN KEY ("organization_id","entity_id","object_type_id") REFERENCES "public"."entities"("organization_id","id","object_type_id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "series" ADD CONSTRAINT "series_property_fk" FOREIGN KEY ("organization_id","object_type_id","property_id") REFERENCES "public"."object_type_properties"("organization_id","object_type_id","id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "series" ADD CONSTRAINT "series_unit_fk" FOREIGN KEY ("unit_id") REFERENCES "public"."unit_definitions"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "series_type_property_idx" ON "series" USING btree ("organization_id","object_type_id","property_id");--> statement-breakpoint
CREATE INDEX "series_component_idx" ON "series" USING btree ("organization_id","component_id") WHERE "series"."component_id" is not null;--> statement-breakpoint
CREATE INDEX "series_entity_idx" ON "series" USING btree ("organization_id","entity_id","property_id");--> statement-breakpoint
CREATE INDEX "series_created_idx" ON "series" USING btree ("organization_id","created_at","id");--> statement-breakpoint
-- Hand-written below this line (drizzle-kit cannot express partitions or functions).
-- Monthly partitions of points (UTC months), made on demand before a write covers a month, so
-- there is no default partition: a backfill into one would later block creating its month.
CREATE FUNCTION stratum_ensure_point_partitions(from_ts timestamptz, to_ts timestamptz) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  first_day timestamp := date_trunc('month', from_ts AT TIME ZONE 'UTC');
  last_day timestamp := date_trunc('month', to_ts AT TIME ZONE 'UTC');
  part text;
  created integer := 0;
BEGIN
  WHILE first_day <= last_day LOOP
    part := 'points_' || to_char(first_day, 'YYYYMM');
    IF to_regclass(part) IS NULL THEN
      EXECUTE format('CREATE TABLE %I PARTITION OF points FOR VALUES FROM (%L) TO (%L)',
        part, (first_day AT TIME ZONE 'UTC')::text, ((first_day + interval '1 month') AT TIME ZONE 'UTC')::text);
      created := created + 1;
    END IF;
    first_day := first_day + interval '1 month';
  END LOOP;
  RETURN created;
END $$;
