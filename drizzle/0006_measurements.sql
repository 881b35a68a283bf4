CREATE TABLE "alert_rules" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"name" text NOT NULL,
	"series_id" uuid,
	"object_type_id" uuid,
	"property_id" uuid,
	"min" double precision,
	"max" double precision,
	"for_seconds" integer DEFAULT 0 NOT NULL,
	"hysteresis" double precision DEFAULT 0 NOT NULL,
	"severity" text DEFAULT 'warning' NOT NULL,
	"is_active" boolean DEFAULT true NOT NULL,
	"created_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "alert_rules_target_check" CHECK (("alert_rules"."series_id" is not null) <> ("alert_rules"."object_type_id" is not null and "alert_rules"."property_id" is not null)),
	CONSTRAINT "alert_rules_bounds_check" CHECK (num_nonnulls("alert_rules"."min", "alert_rules"."max") >= 1 and ("alert_rules"."min" is null or "alert_rules"."max" is null or "alert_rules"."min" < "alert_rules"."max")),
	CONSTRAINT "alert_rules_for_check" CHECK ("alert_rules"."for_seconds" >= 0 and "alert_rules"."hysteresis" >= 0),
	CONSTRAINT "alert_rules_severity_check" CHECK ("alert_rules"."severity" in ('info', 'warning', 'critical'))
);
--> statement-breakpoint
CREATE TABLE "alert_states" (
	"organization_id" uuid NOT NULL,
	"rule_id" uuid NOT NULL,
	"series_id" uuid NOT NULL,
	"state" text NOT NULL,
	"since" timestamp with time zone NOT NULL,
	"evaluated_ts" timestamp with time zone NOT NULL,
	"alert_id" uuid,
	CONSTRAINT "alert_states_pkey" PRIMARY KEY("rule_id","series_id"),
	CONSTRAINT "alert_states_state_check" CHECK ("alert_states"."state" in ('ok', 'pending', 'active'))
);
--> statement-breakpoint
CREATE TABLE "alerts" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"rule_id" uuid NOT NULL,
	"series_id" uuid NOT NULL,
	"severity" text NOT NULL,
	"triggered_at" timestamp with time zone NOT NULL,
	"trigger_value" double precision NOT NULL,
	"resolved_at" timestamp with time zone,
	"resolve_value" double precision
);
--> statement-breakpoint
CREATE TABLE "device_commands" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"device_id" uuid NOT NULL,
	"command" text NOT NULL,
	"params" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"status" text DEFAULT 'queued' NOT NULL,
	"status_changed_at" timestamp with time zone DEFAULT now() NOT NULL,
	"result" jsonb,
	"expires_at" timestamp with time zone,
	"delivered_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"deliveries" integer DEFAULT 0 NOT NULL,
	"created_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "device_commands_status_check" CHECK ("device_commands"."status" in ('queued', 'delivered', 'acknowledged', 'failed', 'expired', 'cancelled'))
);
--> statement-breakpoint
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
CREATE TABLE "retention_policies" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"object_type_id" uuid,
	"series_id" uuid,
	"raw_days" integer NOT NULL,
	"created_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "retention_policies_target_check" CHECK (num_nonnulls("retention_policies"."object_type_id", "retention_policies"."series_id") = 1),
	CONSTRAINT "retention_policies_days_check" CHECK ("retention_policies"."raw_days" >= 1)
);
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
ALTER TABLE "alert_rules" ADD CONSTRAINT "alert_rules_series_fk" FOREIGN KEY ("organization_id","series_id") REFERENCES "public"."series"("organization_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "alert_states" ADD CONSTRAINT "alert_states_rule_fk" FOREIGN KEY ("rule_id") REFERENCES "public"."alert_rules"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "alerts" ADD CONSTRAINT "alerts_rule_fk" FOREIGN KEY ("rule_id") REFERENCES "public"."alert_rules"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "device_commands" ADD CONSTRAINT "device_commands_device_fk" FOREIGN KEY ("organization_id","device_id") REFERENCES "public"."entities"("organization_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "retention_policies" ADD CONSTRAINT "retention_policies_series_fk" FOREIGN KEY ("organization_id","series_id") REFERENCES "public"."series"("organization_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "series" ADD CONSTRAINT "series_entity_fk" FOREIGN KEY ("organization_id","entity_id","object_type_id") REFERENCES "public"."entities"("organization_id","id","object_type_id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "series" ADD CONSTRAINT "series_property_fk" FOREIGN KEY ("organization_id","object_type_id","property_id") REFERENCES "public"."object_type_properties"("organization_id","object_type_id","id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "series" ADD CONSTRAINT "series_unit_fk" FOREIGN KEY ("unit_id") REFERENCES "public"."unit_definitions"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "alert_rules_series_idx" ON "alert_rules" USING btree ("organization_id","series_id");--> statement-breakpoint
CREATE INDEX "alert_rules_type_idx" ON "alert_rules" USING btree ("organization_id","object_type_id","property_id");--> statement-breakpoint
CREATE UNIQUE INDEX "alerts_one_active_key" ON "alerts" USING btree ("rule_id","series_id") WHERE "alerts"."resolved_at" is null;--> statement-breakpoint
CREATE INDEX "alerts_org_idx" ON "alerts" USING btree ("organization_id","triggered_at","id");--> statement-breakpoint
CREATE INDEX "device_commands_pending_idx" ON "device_commands" USING btree ("organization_id","device_id","created_at") WHERE "device_commands"."status" in ('queued', 'delivered');--> statement-breakpoint
CREATE INDEX "device_commands_device_idx" ON "device_commands" USING btree ("organization_id","device_id","created_at","id");--> statement-breakpoint
CREATE UNIQUE INDEX "retention_policies_type_key" ON "retention_policies" USING btree ("organization_id","object_type_id") WHERE "retention_policies"."object_type_id" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "retention_policies_series_key" ON "retention_policies" USING btree ("organization_id","series_id") WHERE "retention_policies"."series_id" is not null;--> statement-breakpoint
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
