-- metric_rows partitioned by month of period_start (declarative range partitioning), so years of data
-- stay cheap to query (the report's window predicate prunes to the months it reads) and retention drops
-- whole months instead of deleting rows. Existing rows move over in this one transaction.
ALTER TABLE "metric_rows" RENAME TO "metric_rows_unpartitioned";--> statement-breakpoint
ALTER TABLE "metric_rows_unpartitioned" RENAME CONSTRAINT "metric_rows_natural_key" TO "metric_rows_unpartitioned_natural_key";--> statement-breakpoint
ALTER INDEX "metric_rows_service_metric_period_idx" RENAME TO "metric_rows_unpartitioned_service_metric_period_idx";--> statement-breakpoint
CREATE TABLE "metric_rows" (
	"resource_arn" text NOT NULL,
	"metric" text NOT NULL,
	"statistic" text NOT NULL,
	"period_start" timestamp with time zone NOT NULL,
	"period_seconds" integer NOT NULL,
	"value" double precision NOT NULL,
	"unit" text NOT NULL,
	"account_id" text NOT NULL,
	"region" text NOT NULL,
	"service" text NOT NULL,
	"resource_type" text NOT NULL,
	"batch_id" text NOT NULL,
	"collected_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "metric_rows_natural_key" PRIMARY KEY("resource_arn","metric","statistic","period_start","period_seconds")
) PARTITION BY RANGE ("period_start");--> statement-breakpoint
CREATE INDEX "metric_rows_service_metric_period_idx" ON "metric_rows" USING btree ("service","metric","period_start");--> statement-breakpoint
-- Creates the monthly partitions (metric_rows_pYYYYMM, UTC months) covering [from_ts, to_ts] that do not
-- exist yet; returns how many it created. Concurrent callers serialize on an advisory lock only when a
-- partition is missing, so the common call (every partition there) is a few catalog look-ups.
CREATE OR REPLACE FUNCTION "observatory_ensure_metric_partitions"(from_ts timestamptz, to_ts timestamptz)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  m timestamp := date_trunc('month', from_ts AT TIME ZONE 'UTC');
  last_month timestamp := date_trunc('month', to_ts AT TIME ZONE 'UTC');
  part text;
  created integer := 0;
  locked boolean := false;
BEGIN
  IF from_ts IS NULL OR to_ts IS NULL THEN
    RETURN 0;
  END IF;
  IF last_month - m > interval '240 months' THEN
    RAISE EXCEPTION 'refusing to create metric_rows partitions for % to %: more than 20 years apart', from_ts, to_ts;
  END IF;
  WHILE m <= last_month LOOP
    part := 'metric_rows_p' || to_char(m, 'YYYYMM');
    IF to_regclass(format('%I', part)) IS NULL THEN
      IF NOT locked THEN
        PERFORM pg_advisory_xact_lock(hashtext('observatory_metric_partitions'));
        locked := true;
        CONTINUE; -- look again: another session may have created it while we waited
      END IF;
      EXECUTE format('CREATE TABLE %I PARTITION OF "metric_rows" FOR VALUES FROM (%L) TO (%L)',
        part, m AT TIME ZONE 'UTC', (m + interval '1 month') AT TIME ZONE 'UTC');
      created := created + 1;
    END IF;
    m := m + interval '1 month';
  END LOOP;
  RETURN created;
END
$$;--> statement-breakpoint
-- Drops every monthly partition of metric_rows whose upper bound is at or before `cutoff` (the whole month
-- is older than the retention); returns the names it dropped.
CREATE OR REPLACE FUNCTION "observatory_drop_metric_partitions"(cutoff timestamptz)
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  r record;
BEGIN
  FOR r IN
    SELECT c.relname AS part,
           (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz AS upper_bound
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = '"metric_rows"'::regclass
     ORDER BY 2
  LOOP
    IF r.upper_bound <= cutoff THEN
      PERFORM pg_advisory_xact_lock(hashtext('observatory_metric_partitions'));
      EXECUTE format('DROP TABLE %I', r.part);
      RETURN NEXT r.part;
    END IF;
  END LOOP;
END
$$;--> statement-breakpoint
SELECT "observatory_ensure_metric_partitions"(min("period_start"), max("period_start")) FROM "metric_rows_unpartitioned";--> statement-breakpoint
SELECT "observatory_ensure_metric_partitions"(now(), now() + interval '2 months');--> statement-breakpoint
INSERT INTO "metric_rows" SELECT * FROM "metric_rows_unpartitioned";--> statement-breakpoint
DROP TABLE "metric_rows_unpartitioned";
