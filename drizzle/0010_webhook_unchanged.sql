-- A webhook delivery starts its execution from a cached read of its trigger, automation and live
-- version; the start's insert calls this with "none of the three rows changed since" (their
-- xmin), so a change made meanwhile fails the statement (SQLSTATE SR001) and the delivery reads
-- them afresh (docs/benchmarks.md section 10: the read was one statement in four per delivery).
CREATE FUNCTION stratum_require(ok boolean, what text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  IF ok IS NOT TRUE THEN
    RAISE EXCEPTION '% changed', what USING ERRCODE = 'SR001';
  END IF;
  RETURN true;
END $$;
