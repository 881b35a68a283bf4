CREATE TABLE "unit_categories" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid,
	"unit_type_id" uuid NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"source" text DEFAULT 'user' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "unit_categories_id_type_key" UNIQUE("id","unit_type_id")
);
--> statement-breakpoint
CREATE TABLE "unit_definitions" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid,
	"unit_type_id" uuid NOT NULL,
	"external_id" text,
	"name" text NOT NULL,
	"long_name" text,
	"symbol" text NOT NULL,
	"aliases" text[] DEFAULT '{}'::text[] NOT NULL,
	"a" double precision NOT NULL,
	"b" double precision NOT NULL,
	"c" double precision NOT NULL,
	"d" double precision NOT NULL,
	"scale" double precision,
	"offset" double precision,
	"is_base" boolean DEFAULT false NOT NULL,
	"source" text DEFAULT 'user' NOT NULL,
	"source_reference" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "unit_definitions_id_type_key" UNIQUE("id","unit_type_id"),
	CONSTRAINT "unit_definitions_finite" CHECK (abs("unit_definitions"."a") < 'Infinity'::float8 and abs("unit_definitions"."b") < 'Infinity'::float8 and abs("unit_definitions"."c") < 'Infinity'::float8 and abs("unit_definitions"."d") < 'Infinity'::float8),
	CONSTRAINT "unit_definitions_invertible" CHECK ("unit_definitions"."a" * "unit_definitions"."d" - "unit_definitions"."b" * "unit_definitions"."c" <> 0),
	CONSTRAINT "unit_definitions_scale_offset" CHECK (("unit_definitions"."scale" is null and "unit_definitions"."offset" is null) or (abs("unit_definitions"."scale") < 'Infinity'::float8 and abs("unit_definitions"."offset") < 'Infinity'::float8 and "unit_definitions"."a" = "unit_definitions"."scale" and "unit_definitions"."b" = "unit_definitions"."offset" * "unit_definitions"."scale" and "unit_definitions"."c" = 0 and "unit_definitions"."d" = 1)),
	CONSTRAINT "unit_definitions_base_is_identity" CHECK (not "unit_definitions"."is_base" or ("unit_definitions"."a" = 1 and "unit_definitions"."b" = 0 and "unit_definitions"."c" = 0 and "unit_definitions"."d" = 1))
);
--> statement-breakpoint
CREATE TABLE "unit_system_category_definitions" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid,
	"unit_system_id" uuid NOT NULL,
	"unit_category_id" uuid NOT NULL,
	"unit_type_id" uuid NOT NULL,
	"unit_definition_id" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "unit_systems" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid,
	"name" text NOT NULL,
	"description" text,
	"source" text DEFAULT 'user' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "unit_types" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid,
	"name" text NOT NULL,
	"external_id" text,
	"description" text,
	"source" text DEFAULT 'user' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "unit_categories" ADD CONSTRAINT "unit_categories_unit_type_id_unit_types_id_fk" FOREIGN KEY ("unit_type_id") REFERENCES "public"."unit_types"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "unit_definitions" ADD CONSTRAINT "unit_definitions_unit_type_id_unit_types_id_fk" FOREIGN KEY ("unit_type_id") REFERENCES "public"."unit_types"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "unit_system_category_definitions" ADD CONSTRAINT "unit_system_category_definitions_unit_system_id_unit_systems_id_fk" FOREIGN KEY ("unit_system_id") REFERENCES "public"."unit_systems"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "unit_system_category_definitions" ADD CONSTRAINT "unit_system_category_definitions_category_fk" FOREIGN KEY ("unit_category_id","unit_type_id") REFERENCES "public"."unit_categories"("id","unit_type_id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "unit_system_category_definitions" ADD CONSTRAINT "unit_system_category_definitions_unit_fk" FOREIGN KEY ("unit_definition_id","unit_type_id") REFERENCES "public"."unit_definitions"("id","unit_type_id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "unit_categories_name_key" ON "unit_categories" USING btree (coalesce("organization_id", '00000000-0000-0000-0000-000000000000'::uuid),"unit_type_id","name");--> statement-breakpoint
CREATE INDEX "unit_categories_type_idx" ON "unit_categories" USING btree ("unit_type_id");--> statement-breakpoint
CREATE INDEX "unit_categories_org_idx" ON "unit_categories" USING btree ("organization_id");--> statement-breakpoint
CREATE UNIQUE INDEX "unit_definitions_name_key" ON "unit_definitions" USING btree (coalesce("organization_id", '00000000-0000-0000-0000-000000000000'::uuid),"unit_type_id","name");--> statement-breakpoint
CREATE UNIQUE INDEX "unit_definitions_external_id_key" ON "unit_definitions" USING btree (coalesce("organization_id", '00000000-0000-0000-0000-000000000000'::uuid),"external_id") WHERE "unit_definitions"."external_id" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "unit_definitions_one_base_per_type" ON "unit_definitions" USING btree ("unit_type_id") WHERE "unit_definitions"."is_base";--> statement-breakpoint
CREATE INDEX "unit_definitions_type_idx" ON "unit_definitions" USING btree ("unit_type_id");--> statement-breakpoint
CREATE INDEX "unit_definitions_symbol_idx" ON "unit_definitions" USING btree ("symbol");--> statement-breakpoint
CREATE INDEX "unit_definitions_aliases_idx" ON "unit_definitions" USING gin ("aliases");--> statement-breakpoint
CREATE INDEX "unit_definitions_org_idx" ON "unit_definitions" USING btree ("organization_id");--> statement-breakpoint
CREATE UNIQUE INDEX "unit_system_category_definitions_key" ON "unit_system_category_definitions" USING btree (coalesce("organization_id", '00000000-0000-0000-0000-000000000000'::uuid),"unit_system_id","unit_category_id");--> statement-breakpoint
CREATE INDEX "unit_system_category_definitions_unit_idx" ON "unit_system_category_definitions" USING btree ("unit_definition_id");--> statement-breakpoint
CREATE INDEX "unit_system_category_definitions_category_idx" ON "unit_system_category_definitions" USING btree ("unit_category_id");--> statement-breakpoint
CREATE UNIQUE INDEX "unit_systems_name_key" ON "unit_systems" USING btree (coalesce("organization_id", '00000000-0000-0000-0000-000000000000'::uuid),"name");--> statement-breakpoint
CREATE INDEX "unit_systems_org_idx" ON "unit_systems" USING btree ("organization_id");--> statement-breakpoint
CREATE UNIQUE INDEX "unit_types_name_key" ON "unit_types" USING btree (coalesce("organization_id", '00000000-0000-0000-0000-000000000000'::uuid),"name");--> statement-breakpoint
CREATE UNIQUE INDEX "unit_types_external_id_key" ON "unit_types" USING btree (coalesce("organization_id", '00000000-0000-0000-0000-000000000000'::uuid),"external_id") WHERE "unit_types"."external_id" is not null;--> statement-breakpoint
CREATE INDEX "unit_types_org_idx" ON "unit_types" USING btree ("organization_id");