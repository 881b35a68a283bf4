CREATE TABLE "event_consumers" (
	"name" text PRIMARY KEY NOT NULL,
	"last_tx_id" bigint DEFAULT 0 NOT NULL,
	"last_event_id" bigint DEFAULT 0 NOT NULL,
	"delivered" bigint DEFAULT 0 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "events" (
	"id" bigint GENERATED ALWAYS AS IDENTITY (sequence name "events_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"timestamp" timestamp with time zone DEFAULT now() NOT NULL,
	"event_type" varchar(100) NOT NULL,
	"entity_id" uuid NOT NULL,
	"entity_type" varchar(100) NOT NULL,
	"data" jsonb NOT NULL,
	"event_metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"source_node" varchar(50),
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"organization_id" uuid,
	"actor" text,
	"trace_id" varchar(32),
	"tx_id" bigint DEFAULT (pg_current_xact_id()::text)::bigint NOT NULL,
	CONSTRAINT "events_timestamp_id_pk" PRIMARY KEY("timestamp","id")
) PARTITION BY RANGE ("timestamp");
--> statement-breakpoint
CREATE TABLE "files" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"name" text NOT NULL,
	"content_type" text NOT NULL,
	"size" bigint NOT NULL,
	"sha256" char(64) NOT NULL,
	"created_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "jobs" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid,
	"type" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"status_changed_at" timestamp with time zone DEFAULT now() NOT NULL,
	"params" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"result" jsonb,
	"error" jsonb,
	"priority" integer DEFAULT 0 NOT NULL,
	"scheduled_at" timestamp with time zone DEFAULT now() NOT NULL,
	"run_after" timestamp with time zone DEFAULT now() NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"max_attempts" integer DEFAULT 5 NOT NULL,
	"locked_by" text,
	"locked_until" timestamp with time zone,
	"progress" smallint DEFAULT 0 NOT NULL,
	"progress_message" text,
	"cancel_requested_at" timestamp with time zone,
	"idempotency_key" text,
	"trace_id" varchar(32),
	"created_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	CONSTRAINT "jobs_status_check" CHECK (status in ('pending', 'running', 'completed', 'failed', 'cancelled')),
	CONSTRAINT "jobs_progress_check" CHECK (progress between 0 and 100),
	CONSTRAINT "jobs_attempts_check" CHECK (max_attempts >= 1 and attempts >= 0)
);
--> statement-breakpoint
CREATE INDEX "events_tx_idx" ON "events" USING btree ("tx_id","id");--> statement-breakpoint
CREATE INDEX "events_org_type_idx" ON "events" USING btree ("organization_id","event_type","timestamp");--> statement-breakpoint
CREATE INDEX "events_entity_idx" ON "events" USING btree ("entity_id","timestamp");--> statement-breakpoint
CREATE INDEX "files_org_idx" ON "files" USING btree ("organization_id","created_at","id");--> statement-breakpoint
CREATE INDEX "files_sha_idx" ON "files" USING btree ("sha256");--> statement-breakpoint
CREATE UNIQUE INDEX "jobs_idempotency_key" ON "jobs" USING btree (coalesce("organization_id", '00000000-0000-0000-0000-000000000000'::uuid),"idempotency_key") WHERE idempotency_key is not null;--> statement-breakpoint
CREATE INDEX "jobs_claim_idx" ON "jobs" USING btree ("priority" DESC NULLS LAST,"run_after","id") WHERE status = 'pending';--> statement-breakpoint
CREATE INDEX "jobs_lease_idx" ON "jobs" USING btree ("locked_until") WHERE status = 'running';--> statement-breakpoint
CREATE INDEX "jobs_org_idx" ON "jobs" USING btree ("organization_id","created_at","id");--> statement-breakpoint
-- Hand-written below this line (drizzle-kit cannot express partitions, functions or triggers).
-- Monthly partitions of events, created ahead by the maintenance job; the default partition only
-- catches a row no partition covers, so nothing is ever refused.
CREATE TABLE "events_default" PARTITION OF "events" DEFAULT;--> statement-breakpoint
CREATE FUNCTION stratum_ensure_event_partitions(months_ahead integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  first_day timestamp;
  part text;
  created integer := 0;
BEGIN
  FOR i IN 0..months_ahead LOOP
    first_day := date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => i);
    part := 'events_' || to_char(first_day, 'YYYYMM');
    IF to_regclass(part) IS NULL THEN
      EXECUTE format('CREATE TABLE %I PARTITION OF events FOR VALUES FROM (%L) TO (%L)',
        part, (first_day AT TIME ZONE 'UTC')::text, ((first_day + interval '1 month') AT TIME ZONE 'UTC')::text);
      created := created + 1;
    END IF;
  END LOOP;
  RETURN created;
END $$;--> statement-breakpoint
SELECT stratum_ensure_event_partitions(2);--> statement-breakpoint
-- The event log is append-only: the application has no path that changes or removes an event.
CREATE FUNCTION stratum_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'events are append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;--> statement-breakpoint
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON "events"
  FOR EACH STATEMENT EXECUTE FUNCTION stratum_events_append_only();--> statement-breakpoint
-- Wake-ups: one notification per writing statement (PostgreSQL folds duplicates per transaction).
CREATE FUNCTION stratum_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify(TG_ARGV[0], '');
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE TRIGGER events_notify AFTER INSERT ON "events"
  FOR EACH STATEMENT EXECUTE FUNCTION stratum_notify('stratum_events');--> statement-breakpoint
CREATE TRIGGER jobs_notify AFTER INSERT ON "jobs"
  FOR EACH STATEMENT EXECUTE FUNCTION stratum_notify('stratum_jobs');
