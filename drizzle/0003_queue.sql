CREATE TABLE "queue_entries" (
	"id" serial PRIMARY KEY NOT NULL,
	"event_id" integer NOT NULL,
	"user_id" integer NOT NULL,
	"ticket" integer,
	"joined_at" timestamp with time zone DEFAULT now() NOT NULL,
	"admit_at" timestamp with time zone,
	"left_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "sales_start_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "queue_rate_per_minute" integer;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "admission_seconds" integer DEFAULT 600 NOT NULL;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "queue_drawn" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "queue_issued" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "queue_last_admit_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "queue_admitted" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "queue_admitted_before" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "queue_entries" ADD CONSTRAINT "queue_entries_event_id_events_id_fk" FOREIGN KEY ("event_id") REFERENCES "public"."events"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "queue_entries" ADD CONSTRAINT "queue_entries_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "queue_entries_user_in_line_unique" ON "queue_entries" USING btree ("event_id","user_id") WHERE left_at is null;--> statement-breakpoint
CREATE UNIQUE INDEX "queue_entries_ticket_unique" ON "queue_entries" USING btree ("event_id","ticket");--> statement-breakpoint
CREATE INDEX "queue_entries_admit_idx" ON "queue_entries" USING btree ("event_id","admit_at");--> statement-breakpoint
ALTER TABLE "events" ADD CONSTRAINT "events_queue_rate_range" CHECK ("events"."queue_rate_per_minute" between 1 and 100000);--> statement-breakpoint
ALTER TABLE "events" ADD CONSTRAINT "events_admission_seconds_range" CHECK ("events"."admission_seconds" between 30 and 7200);