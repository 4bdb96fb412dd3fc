CREATE TABLE "batch_ledger" (
	"batch_id" text PRIMARY KEY NOT NULL,
	"account_id" text,
	"region" text,
	"service" text,
	"window_start" timestamp with time zone,
	"window_end" timestamp with time zone,
	"collected_at" timestamp with time zone,
	"row_count" integer NOT NULL,
	"resource_count" integer DEFAULT 0 NOT NULL,
	"checksum" text NOT NULL,
	"status" text NOT NULL,
	"error" text,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"attempts" integer DEFAULT 1 NOT NULL,
	CONSTRAINT "batch_ledger_status_check" CHECK ("batch_ledger"."status" in ('stored', 'rejected'))
);
--> statement-breakpoint
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
);
--> statement-breakpoint
CREATE TABLE "resources" (
	"arn" text PRIMARY KEY NOT NULL,
	"account_id" text NOT NULL,
	"region" text NOT NULL,
	"service" text NOT NULL,
	"type" text NOT NULL,
	"name" text NOT NULL,
	"state" text NOT NULL,
	"tags" jsonb NOT NULL,
	"capacity" jsonb NOT NULL,
	"attributes" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"has_agent_metrics" boolean NOT NULL,
	"first_seen" timestamp with time zone NOT NULL,
	"last_seen" timestamp with time zone NOT NULL,
	"batch_id" text NOT NULL
);
--> statement-breakpoint
CREATE INDEX "batch_ledger_shard_idx" ON "batch_ledger" USING btree ("account_id","region","service","window_end");--> statement-breakpoint
CREATE INDEX "metric_rows_service_metric_period_idx" ON "metric_rows" USING btree ("service","metric","period_start");--> statement-breakpoint
CREATE INDEX "resources_service_idx" ON "resources" USING btree ("service");