-- Wake workers only for jobs they can claim. A job written already claimed (a waited-for
-- execution run by the process that started it) woke every worker for a claim that found
-- nothing: one wasted query per execution (docs/benchmarks.md section 10).
CREATE FUNCTION stratum_notify_pending_jobs() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM inserted WHERE status = 'pending') THEN
    PERFORM pg_notify('stratum_jobs', '');
  END IF;
  RETURN NULL;
END $$;--> statement-breakpoint
DROP TRIGGER jobs_notify ON "jobs";--> statement-breakpoint
CREATE TRIGGER jobs_notify AFTER INSERT ON "jobs" REFERENCING NEW TABLE AS inserted
  FOR EACH STATEMENT EXECUTE FUNCTION stratum_notify_pending_jobs();
