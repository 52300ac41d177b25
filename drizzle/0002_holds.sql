CREATE TABLE "held_by_user" (
	"user_id" integer NOT NULL,
	"event_id" integer NOT NULL,
	"held_seats" integer NOT NULL,
	CONSTRAINT "held_by_user_user_id_event_id_pk" PRIMARY KEY("user_id","event_id"),
	CONSTRAINT "held_by_user_within_limit" CHECK ("held_by_user"."held_seats" between 0 and 10)
);
--> statement-breakpoint
CREATE TABLE "holds" (
	"id" serial PRIMARY KEY NOT NULL,
	"event_id" integer NOT NULL,
	"user_id" integer NOT NULL,
	"quantity" integer NOT NULL,
	"status" varchar(16) DEFAULT 'active' NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"extensions" integer DEFAULT 0 NOT NULL,
	"warned" boolean DEFAULT false NOT NULL,
	"booking_id" integer,
	"idempotency_key" varchar(255),
	"request_fingerprint" text,
	"available_seats_after" integer,
	CONSTRAINT "holds_quantity_range" CHECK ("holds"."quantity" between 1 and 10),
	CONSTRAINT "holds_status_known" CHECK ("holds"."status" in ('active', 'confirmed', 'released', 'expired'))
);
--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "held_seats" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "held_by_user" ADD CONSTRAINT "held_by_user_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "held_by_user" ADD CONSTRAINT "held_by_user_event_id_events_id_fk" FOREIGN KEY ("event_id") REFERENCES "public"."events"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "holds" ADD CONSTRAINT "holds_event_id_events_id_fk" FOREIGN KEY ("event_id") REFERENCES "public"."events"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "holds" ADD CONSTRAINT "holds_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "holds" ADD CONSTRAINT "holds_booking_id_bookings_id_fk" FOREIGN KEY ("booking_id") REFERENCES "public"."bookings"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "holds_user_idempotency_key_unique" ON "holds" USING btree ("user_id","idempotency_key");--> statement-breakpoint
CREATE INDEX "holds_user_idx" ON "holds" USING btree ("user_id","id");--> statement-breakpoint
CREATE INDEX "holds_active_expiry_idx" ON "holds" USING btree ("expires_at") WHERE status = 'active';--> statement-breakpoint
ALTER TABLE "events" ADD CONSTRAINT "events_held_seats_non_negative" CHECK ("events"."held_seats" >= 0);--> statement-breakpoint
ALTER TABLE "events" ADD CONSTRAINT "events_available_and_held_within_capacity" CHECK ("events"."available_seats" + "events"."held_seats" <= "events"."capacity");