CREATE TABLE "automations" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"name" text NOT NULL,
	"slug" text NOT NULL,
	"description" text,
	"enabled" boolean DEFAULT true NOT NULL,
	"config" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"process_type" text,
	"max_concurrency" integer,
	"max_concurrency_per_key" integer,
	"retention_days" integer,
	"retention_count" integer,
	"component_id" uuid,
	"code_file_id" uuid,
	"ipynb_file_id" uuid,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_by" text,
	"modified_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "automations_org_id_key" UNIQUE("organization_id","id"),
	CONSTRAINT "automations_limits_check" CHECK (coalesce("automations"."max_concurrency", 1) > 0 and coalesce("automations"."max_concurrency_per_key", 1) > 0 and coalesce("automations"."retention_days", 1) > 0 and coalesce("automations"."retention_count", 1) > 0)
);
--> statement-breakpoint
CREATE TABLE "executions" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"automation_id" uuid NOT NULL,
	"version_id" uuid NOT NULL,
	"trigger_id" uuid,
	"trigger_type" text DEFAULT 'manual' NOT NULL,
	"event_id" bigint,
	"status" text DEFAULT 'queued' NOT NULL,
	"status_changed_at" timestamp with time zone DEFAULT now() NOT NULL,
	"input" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"context" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"output" jsonb,
	"error" jsonb,
	"idempotency_key" text,
	"concurrency_key" text,
	"batch_id" text,
	"trace_id" text NOT NULL,
	"job_id" uuid,
	"runner" text,
	"retry_of" uuid,
	"parent_execution_id" uuid,
	"parent_step_id" text,
	"cancel_requested_at" timestamp with time zone,
	"started_at" timestamp with time zone,
	"ended_at" timestamp with time zone,
	"created_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "executions_org_id_key" UNIQUE("organization_id","id"),
	CONSTRAINT "executions_status_check" CHECK ("executions"."status" in ('queued', 'running', 'waiting', 'succeeded', 'failed', 'cancelled'))
);
--> statement-breakpoint
CREATE TABLE "schedule_logs" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"trigger_id" uuid NOT NULL,
	"ts" timestamp with time zone DEFAULT now() NOT NULL,
	"scheduled_for" timestamp with time zone NOT NULL,
	"status" text NOT NULL,
	"message" text NOT NULL,
	"execution_id" uuid,
	CONSTRAINT "schedule_logs_status_check" CHECK ("schedule_logs"."status" in ('fired', 'skipped', 'error'))
);
--> statement-breakpoint
CREATE TABLE "step_runs" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"execution_id" uuid NOT NULL,
	"step_id" text NOT NULL,
	"step_type" text NOT NULL,
	"attempt" integer NOT NULL,
	"status" text NOT NULL,
	"input" jsonb,
	"output" jsonb,
	"error" jsonb,
	"logs" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"duration_ms" integer,
	"wake_at" timestamp with time zone,
	"started_at" timestamp with time zone NOT NULL,
	"ended_at" timestamp with time zone,
	CONSTRAINT "step_runs_attempt_key" UNIQUE("execution_id","step_id","attempt"),
	CONSTRAINT "step_runs_status_check" CHECK ("step_runs"."status" in ('running', 'succeeded', 'failed', 'skipped', 'waiting', 'cancelled'))
);
--> statement-breakpoint
CREATE TABLE "triggers" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"automation_id" uuid NOT NULL,
	"type" text NOT NULL,
	"name" text,
	"enabled" boolean DEFAULT true NOT NULL,
	"config" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"filters" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"webhook_token" text,
	"secret" text,
	"next_run_at" timestamp with time zone,
	"last_run_at" timestamp with time zone,
	"created_by" text,
	"modified_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "triggers_org_id_key" UNIQUE("organization_id","id"),
	CONSTRAINT "triggers_type_check" CHECK ("triggers"."type" in ('manual', 'cron', 'event', 'webhook'))
);
--> statement-breakpoint
CREATE TABLE "workflow_versions" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"automation_id" uuid NOT NULL,
	"version" integer NOT NULL,
	"graph" jsonb NOT NULL,
	"plan" jsonb NOT NULL,
	"is_live" boolean DEFAULT false NOT NULL,
	"note" text,
	"published_at" timestamp with time zone,
	"published_by" text,
	"created_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "workflow_versions_org_id_key" UNIQUE("organization_id","id"),
	CONSTRAINT "workflow_versions_version_key" UNIQUE("automation_id","version")
);
--> statement-breakpoint
ALTER TABLE "automations" ADD CONSTRAINT "automations_component_fk" FOREIGN KEY ("organization_id","component_id") REFERENCES "public"."components"("organization_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "executions" ADD CONSTRAINT "executions_automation_fk" FOREIGN KEY ("organization_id","automation_id") REFERENCES "public"."automations"("organization_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "executions" ADD CONSTRAINT "executions_version_fk" FOREIGN KEY ("organization_id","version_id") REFERENCES "public"."workflow_versions"("organization_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "schedule_logs" ADD CONSTRAINT "schedule_logs_trigger_fk" FOREIGN KEY ("organization_id","trigger_id") REFERENCES "public"."triggers"("organization_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "step_runs" ADD CONSTRAINT "step_runs_execution_fk" FOREIGN KEY ("organization_id","execution_id") REFERENCES "public"."executions"("organization_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "triggers" ADD CONSTRAINT "triggers_automation_fk" FOREIGN KEY ("organization_id","automation_id") REFERENCES "public"."automations"("organization_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "workflow_versions" ADD CONSTRAINT "workflow_versions_automation_fk" FOREIGN KEY ("organization_id","automation_id") REFERENCES "public"."automations"("organization_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "automations_slug_key" ON "automations" USING btree ("organization_id","slug");--> statement-breakpoint
CREATE INDEX "automations_created_idx" ON "automations" USING btree ("organization_id","created_at","id");--> statement-breakpoint
CREATE UNIQUE INDEX "automations_component_key" ON "automations" USING btree ("component_id") WHERE "automations"."component_id" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "executions_idempotency_key" ON "executions" USING btree ("organization_id","automation_id","idempotency_key") WHERE "executions"."idempotency_key" is not null;--> statement-breakpoint
CREATE INDEX "executions_created_idx" ON "executions" USING btree ("organization_id","automation_id","created_at","id");--> statement-breakpoint
CREATE INDEX "executions_org_created_idx" ON "executions" USING btree ("organization_id","created_at","id");--> statement-breakpoint
CREATE INDEX "executions_parent_idx" ON "executions" USING btree ("parent_execution_id") WHERE "executions"."parent_execution_id" is not null;--> statement-breakpoint
CREATE INDEX "executions_active_idx" ON "executions" USING btree ("automation_id","status") WHERE "executions"."status" in ('queued', 'running', 'waiting');--> statement-breakpoint
CREATE INDEX "schedule_logs_trigger_idx" ON "schedule_logs" USING btree ("organization_id","trigger_id","ts","id");--> statement-breakpoint
CREATE UNIQUE INDEX "triggers_webhook_token_key" ON "triggers" USING btree ("webhook_token");--> statement-breakpoint
CREATE INDEX "triggers_automation_idx" ON "triggers" USING btree ("organization_id","automation_id","created_at","id");--> statement-breakpoint
CREATE INDEX "triggers_org_created_idx" ON "triggers" USING btree ("organization_id","created_at","id");--> statement-breakpoint
CREATE INDEX "triggers_due_idx" ON "triggers" USING btree ("next_run_at") WHERE "triggers"."type" = 'cron' and "triggers"."enabled";--> statement-breakpoint
CREATE UNIQUE INDEX "workflow_versions_one_live_key" ON "workflow_versions" USING btree ("automation_id") WHERE "workflow_versions"."is_live";