CREATE TABLE "entities" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"object_type_id" uuid NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"properties" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"is_active" boolean DEFAULT true NOT NULL,
	"schema_version" integer,
	"external_id" text,
	"managed_by" text,
	"created_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "entities_org_id_key" UNIQUE("organization_id","id")
);
--> statement-breakpoint
CREATE TABLE "networks" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"well_entity_id" uuid NOT NULL,
	"paths" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"branches" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"trunks" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"audit_at" timestamp with time zone DEFAULT now() NOT NULL,
	"created_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "object_type_properties" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"object_type_id" uuid NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"data_type" text NOT NULL,
	"time_varying" boolean DEFAULT false NOT NULL,
	"unit_category_id" uuid,
	"unit_id" uuid,
	"display_unit_id" uuid,
	"openserver" text,
	"required" boolean DEFAULT false NOT NULL,
	"indexed" boolean DEFAULT false NOT NULL,
	"default_value" jsonb,
	"enum_values" jsonb,
	"minimum" double precision,
	"maximum" double precision,
	"position" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "object_type_properties_data_type_check" CHECK ("object_type_properties"."data_type" in ('number', 'integer', 'string', 'boolean', 'enum', 'timestamp', 'json')),
	CONSTRAINT "object_type_properties_bounds_check" CHECK ("object_type_properties"."minimum" is null or "object_type_properties"."maximum" is null or "object_type_properties"."minimum" <= "object_type_properties"."maximum"),
	CONSTRAINT "object_type_properties_indexed_check" CHECK (not "object_type_properties"."indexed" or ("object_type_properties"."data_type" in ('number', 'integer') and not "object_type_properties"."time_varying")),
	CONSTRAINT "object_type_properties_unit_check" CHECK ("object_type_properties"."unit_category_id" is null or "object_type_properties"."unit_id" is not null)
);
--> statement-breakpoint
CREATE TABLE "object_type_schemas" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"object_type_id" uuid NOT NULL,
	"key" text NOT NULL,
	"version" integer NOT NULL,
	"definition" jsonb NOT NULL,
	"description" text,
	"source" text NOT NULL,
	"change" text NOT NULL,
	"changes" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"valid_from" timestamp with time zone DEFAULT now() NOT NULL,
	"valid_to" timestamp with time zone,
	"created_by" text,
	CONSTRAINT "object_type_schemas_version_key" UNIQUE("object_type_id","version"),
	CONSTRAINT "object_type_schemas_validity_check" CHECK ("object_type_schemas"."valid_to" is null or "object_type_schemas"."valid_to" >= "object_type_schemas"."valid_from")
);
--> statement-breakpoint
CREATE TABLE "object_types" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"managed_by" text,
	"raw_schema" jsonb,
	"schema_version" integer DEFAULT 0 NOT NULL,
	"created_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "object_types_org_id_key" UNIQUE("organization_id","id"),
	CONSTRAINT "object_types_name_check" CHECK ("object_types"."name" ~ '^[A-Za-z0-9][A-Za-z0-9_ -]*(\.[A-Za-z0-9][A-Za-z0-9_ -]*)*$')
);
--> statement-breakpoint
CREATE TABLE "relationship_types" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid,
	"name" text NOT NULL,
	"description" text,
	"inverse_name" text,
	"hierarchical" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "relationship_types_name_check" CHECK ("relationship_types"."name" ~ '^[a-z][a-z0-9_]*$')
);
--> statement-breakpoint
CREATE TABLE "relationships" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"from_entity_id" uuid NOT NULL,
	"to_entity_id" uuid NOT NULL,
	"relationship_type" text NOT NULL,
	"properties" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"strength" numeric(3, 2) DEFAULT '1.00' NOT NULL,
	"valid_from" timestamp with time zone DEFAULT now() NOT NULL,
	"valid_to" timestamp with time zone,
	"created_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "relationships_strength_check" CHECK ("relationships"."strength" >= 0 and "relationships"."strength" <= 1),
	CONSTRAINT "relationships_validity_check" CHECK ("relationships"."valid_to" is null or "relationships"."valid_to" > "relationships"."valid_from"),
	CONSTRAINT "relationships_not_self_check" CHECK ("relationships"."from_entity_id" <> "relationships"."to_entity_id")
);
--> statement-breakpoint
ALTER TABLE "entities" ADD CONSTRAINT "entities_type_fk" FOREIGN KEY ("organization_id","object_type_id") REFERENCES "public"."object_types"("organization_id","id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "networks" ADD CONSTRAINT "networks_well_fk" FOREIGN KEY ("organization_id","well_entity_id") REFERENCES "public"."entities"("organization_id","id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "object_type_properties" ADD CONSTRAINT "object_type_properties_type_fk" FOREIGN KEY ("organization_id","object_type_id") REFERENCES "public"."object_types"("organization_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "object_type_properties" ADD CONSTRAINT "object_type_properties_category_fk" FOREIGN KEY ("unit_category_id") REFERENCES "public"."unit_categories"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "object_type_properties" ADD CONSTRAINT "object_type_properties_unit_fk" FOREIGN KEY ("unit_id") REFERENCES "public"."unit_definitions"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "object_type_properties" ADD CONSTRAINT "object_type_properties_display_unit_fk" FOREIGN KEY ("display_unit_id") REFERENCES "public"."unit_definitions"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "object_type_schemas" ADD CONSTRAINT "object_type_schemas_type_fk" FOREIGN KEY ("organization_id","object_type_id") REFERENCES "public"."object_types"("organization_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "relationships" ADD CONSTRAINT "relationships_from_fk" FOREIGN KEY ("organization_id","from_entity_id") REFERENCES "public"."entities"("organization_id","id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "relationships" ADD CONSTRAINT "relationships_to_fk" FOREIGN KEY ("organization_id","to_entity_id") REFERENCES "public"."entities"("organization_id","id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "entities_name_key" ON "entities" USING btree ("organization_id","object_type_id",lower("name"));--> statement-breakpoint
CREATE UNIQUE INDEX "entities_external_id_key" ON "entities" USING btree ("organization_id","external_id") WHERE "entities"."external_id" is not null;--> statement-breakpoint
CREATE INDEX "entities_type_idx" ON "entities" USING btree ("organization_id","object_type_id","created_at","id");--> statement-breakpoint
CREATE INDEX "entities_created_idx" ON "entities" USING btree ("organization_id","created_at","id");--> statement-breakpoint
CREATE INDEX "entities_properties_idx" ON "entities" USING gin ("properties" jsonb_path_ops);--> statement-breakpoint
CREATE INDEX "entities_search_idx" ON "entities" USING gin (to_tsvector('simple', "name" || ' ' || coalesce("description", '')));--> statement-breakpoint
CREATE UNIQUE INDEX "networks_well_key" ON "networks" USING btree ("organization_id","well_entity_id");--> statement-breakpoint
CREATE INDEX "networks_created_idx" ON "networks" USING btree ("organization_id","created_at","id");--> statement-breakpoint
CREATE UNIQUE INDEX "object_type_properties_name_key" ON "object_type_properties" USING btree ("object_type_id",lower("name"));--> statement-breakpoint
CREATE UNIQUE INDEX "object_type_schemas_current_key" ON "object_type_schemas" USING btree ("object_type_id") WHERE "object_type_schemas"."valid_to" is null;--> statement-breakpoint
CREATE UNIQUE INDEX "object_types_name_key" ON "object_types" USING btree ("organization_id",lower("name"));--> statement-breakpoint
CREATE UNIQUE INDEX "relationship_types_name_key" ON "relationship_types" USING btree (coalesce("organization_id", '00000000-0000-0000-0000-000000000000'::uuid),"name");--> statement-breakpoint
CREATE INDEX "relationships_from_idx" ON "relationships" USING btree ("organization_id","from_entity_id","relationship_type","valid_from");--> statement-breakpoint
CREATE INDEX "relationships_to_idx" ON "relationships" USING btree ("organization_id","to_entity_id","relationship_type","valid_from");--> statement-breakpoint
-- Built-in relationship types (seed 001's five, plus part_of for asset trees), visible to every organisation.
INSERT INTO "relationship_types" ("id", "organization_id", "name", "description", "inverse_name", "hierarchical") VALUES
  ('0190a000-0000-7000-8000-000000000001', NULL, 'monitors', 'A device monitors equipment (ESP32 monitors oven)', 'monitored_by', false),
  ('0190a000-0000-7000-8000-000000000002', NULL, 'belongs_to', 'A user belongs to an organisation', 'has_member', false),
  ('0190a000-0000-7000-8000-000000000003', NULL, 'owns', 'An organisation owns a device', 'owned_by', false),
  ('0190a000-0000-7000-8000-000000000004', NULL, 'manages', 'A user manages a project', 'managed_by', false),
  ('0190a000-0000-7000-8000-000000000005', NULL, 'participates_in', 'A user participates in a project', 'has_participant', false),
  ('0190a000-0000-7000-8000-000000000006', NULL, 'part_of', 'An asset is part of a larger one (Well part of Platform part of Field): the asset tree', 'has_part', true);
--> statement-breakpoint
-- A JSON value as a number, or null when it is not one: what numeric range filters on entity
-- properties compare, so a string where a number was expected never makes a query fail, and an
-- expression index on stratum_jsonb_number(properties -> 'name') serves the range.
CREATE FUNCTION "stratum_jsonb_number"(v jsonb) RETURNS double precision LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT CASE WHEN jsonb_typeof(v) = 'number' THEN (v #>> '{}')::double precision END $$;
