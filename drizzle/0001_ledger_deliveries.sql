-- One ledger row per delivery (batch ID, collection time) instead of per batch ID, so a re-collection of
-- the same window is recorded beside the first one; and a hash of the raw bytes for the redelivery fast path.
UPDATE "batch_ledger" SET "collected_at" = '-infinity' WHERE "collected_at" IS NULL;--> statement-breakpoint
ALTER TABLE "batch_ledger" DROP CONSTRAINT "batch_ledger_pkey";--> statement-breakpoint
ALTER TABLE "batch_ledger" ALTER COLUMN "collected_at" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "batch_ledger" ADD CONSTRAINT "batch_ledger_delivery_key" PRIMARY KEY("batch_id","collected_at");--> statement-breakpoint
ALTER TABLE "batch_ledger" ADD COLUMN "raw_hash" text;--> statement-breakpoint
CREATE INDEX "batch_ledger_raw_hash_idx" ON "batch_ledger" USING btree ("raw_hash");
