CREATE TABLE "rollup_dirty" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "rollup_dirty_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"series_id" bigint NOT NULL,
	"first_hour" timestamp with time zone NOT NULL,
	"last_hour" timestamp with time zone NOT NULL,
	CONSTRAINT "rollup_dirty_range_check" CHECK ("rollup_dirty"."first_hour" <= "rollup_dirty"."last_hour")
);
--> statement-breakpoint
CREATE TABLE "rollups_1d" (
	"series_id" bigint NOT NULL,
	"bucket" timestamp with time zone NOT NULL,
	"n" integer NOT NULL,
	"sum" double precision,
	"min" double precision,
	"max" double precision,
	"m2" double precision,
	"first_ts" timestamp with time zone NOT NULL,
	"first_value" double precision,
	"first_text" text,
	"last_ts" timestamp with time zone NOT NULL,
	"last_value" double precision,
	"last_text" text,
	CONSTRAINT "rollups_1d_pkey" PRIMARY KEY("series_id","bucket")
);
--> statement-breakpoint
CREATE TABLE "rollups_1h" (
	"series_id" bigint NOT NULL,
	"bucket" timestamp with time zone NOT NULL,
	"n" integer NOT NULL,
	"sum" double precision,
	"min" double precision,
	"max" double precision,
	"m2" double precision,
	"first_ts" timestamp with time zone NOT NULL,
	"first_value" double precision,
	"first_text" text,
	"last_ts" timestamp with time zone NOT NULL,
	"last_value" double precision,
	"last_text" text,
	CONSTRAINT "rollups_1h_pkey" PRIMARY KEY("series_id","bucket")
);
--> statement-breakpoint
CREATE TABLE "rollups_1m" (
	"series_id" bigint NOT NULL,
	"bucket" timestamp with time zone NOT NULL,
	"n" integer NOT NULL,
	"sum" double precision,
	"min" double precision,
	"max" double precision,
	"m2" double precision,
	"first_ts" timestamp with time zone NOT NULL,
	"first_value" double precision,
	"first_text" text,
	"last_ts" timestamp with time zone NOT NULL,
	"last_value" double precision,
	"last_text" text,
	CONSTRAINT "rollups_1m_pkey" PRIMARY KEY("series_id","bucket")
);
--> statement-breakpoint
CREATE TABLE "component_files" (
	"organization_id" uuid NOT NULL,
	"component_id" uuid NOT NULL,
	"version" integer NOT NULL,
	"file_id" uuid NOT NULL,
	"created_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "component_files_pkey" PRIMARY KEY("component_id","version")
);
--> statement-breakpoint
CREATE TABLE "components" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"data_source_id" uuid NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"file_id" uuid,
	"is_active" boolean DEFAULT true NOT NULL,
	"created_by" text,
	"modified_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "components_org_id_key" UNIQUE("organization_id","id"),
	CONSTRAINT "components_org_id_source_key" UNIQUE("organization_id","id","data_source_id")
);
--> statement-breakpoint
CREATE TABLE "data_sources" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"name" text NOT NULL,
	"type" text NOT NULL,
	"description" text,
	"created_by" text,
	"modified_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "data_sources_org_id_key" UNIQUE("organization_id","id"),
	CONSTRAINT "data_sources_type_check" CHECK ("data_sources"."type" in ('INPUT', 'OUTPUT', 'PROCESS'))
);
--> statement-breakpoint
CREATE TABLE "scenario_components" (
	"organization_id" uuid NOT NULL,
	"scenario_id" uuid NOT NULL,
	"component_id" uuid NOT NULL,
	"data_source_id" uuid NOT NULL,
	"created_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "scenario_components_pkey" PRIMARY KEY("scenario_id","component_id"),
	CONSTRAINT "scenario_components_one_per_source_key" UNIQUE("scenario_id","data_source_id")
);
--> statement-breakpoint
CREATE TABLE "scenario_logs" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"scenario_id" uuid NOT NULL,
	"ts" timestamp with time zone DEFAULT now() NOT NULL,
	"level" text DEFAULT 'info' NOT NULL,
	"message" text NOT NULL,
	"progress" integer,
	"created_by" text,
	"job_id" uuid,
	CONSTRAINT "scenario_logs_level_check" CHECK ("scenario_logs"."level" in ('debug', 'info', 'warning', 'error')),
	CONSTRAINT "scenario_logs_progress_check" CHECK ("scenario_logs"."progress" is null or ("scenario_logs"."progress" between 0 and 100))
);
--> statement-breakpoint
CREATE TABLE "scenarios" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"status" text DEFAULT 'draft' NOT NULL,
	"status_changed_at" timestamp with time zone DEFAULT now() NOT NULL,
	"period_start" timestamp with time zone,
	"period_end" timestamp with time zone,
	"submitted_by" text,
	"submitted_at" timestamp with time zone,
	"approved_by" text,
	"approved_at" timestamp with time zone,
	"rejected_by" text,
	"rejected_at" timestamp with time zone,
	"rejection_reason" text,
	"cloned_from" uuid,
	"creator_id" text,
	"created_by" text,
	"modified_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "scenarios_org_id_key" UNIQUE("organization_id","id"),
	CONSTRAINT "scenarios_status_check" CHECK ("scenarios"."status" in ('draft', 'submitted', 'approved', 'rejected', 'running', 'completed', 'failed', 'archived')),
	CONSTRAINT "scenarios_period_check" CHECK ("scenarios"."period_start" is null or "scenarios"."period_end" is null or "scenarios"."period_start" < "scenarios"."period_end")
);
--> statement-breakpoint
ALTER TABLE "component_files" ADD CONSTRAINT "component_files_component_fk" FOREIGN KEY ("organization_id","component_id") REFERENCES "public"."components"("organization_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "component_files" ADD CONSTRAINT "component_files_file_fk" FOREIGN KEY ("file_id") REFERENCES "public"."files"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "components" ADD CONSTRAINT "components_data_source_fk" FOREIGN KEY ("organization_id","data_source_id") REFERENCES "public"."data_sources"("organization_id","id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "components" ADD CONSTRAINT "components_file_fk" FOREIGN KEY ("file_id") REFERENCES "public"."files"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "scenario_components" ADD CONSTRAINT "scenario_components_scenario_fk" FOREIGN KEY ("organization_id","scenario_id") REFERENCES "public"."scenarios"("organization_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "scenario_components" ADD CONSTRAINT "scenario_components_component_fk" FOREIGN KEY ("organization_id","component_id","data_source_id") REFERENCES "public"."components"("organization_id","id","data_source_id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "scenario_logs" ADD CONSTRAINT "scenario_logs_scenario_fk" FOREIGN KEY ("organization_id","scenario_id") REFERENCES "public"."scenarios"("organization_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "rollup_dirty_series_idx" ON "rollup_dirty" USING btree ("series_id","first_hour");--> statement-breakpoint
CREATE UNIQUE INDEX "components_name_key" ON "components" USING btree ("organization_id","data_source_id",lower("name"));--> statement-breakpoint
CREATE INDEX "components_created_idx" ON "components" USING btree ("organization_id","data_source_id","created_at","id");--> statement-breakpoint
CREATE UNIQUE INDEX "data_sources_name_key" ON "data_sources" USING btree ("organization_id",lower("name"));--> statement-breakpoint
CREATE INDEX "data_sources_created_idx" ON "data_sources" USING btree ("organization_id","created_at","id");--> statement-breakpoint
CREATE INDEX "scenario_components_component_idx" ON "scenario_components" USING btree ("organization_id","component_id");--> statement-breakpoint
CREATE INDEX "scenario_logs_scenario_idx" ON "scenario_logs" USING btree ("organization_id","scenario_id","ts","id");--> statement-breakpoint
CREATE UNIQUE INDEX "scenarios_name_key" ON "scenarios" USING btree ("organization_id",lower("name"));--> statement-breakpoint
CREATE INDEX "scenarios_created_idx" ON "scenarios" USING btree ("organization_id","created_at","id");--> statement-breakpoint
CREATE INDEX "scenarios_status_idx" ON "scenarios" USING btree ("organization_id","status");--> statement-breakpoint
ALTER TABLE "series" ADD CONSTRAINT "series_component_fk" FOREIGN KEY ("organization_id","component_id") REFERENCES "public"."components"("organization_id","id") ON DELETE restrict ON UPDATE no action;