CREATE TABLE "unit_preferences" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"user_id" uuid,
	"unit_system_id" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "unit_preferences" ADD CONSTRAINT "unit_preferences_unit_system_id_unit_systems_id_fk" FOREIGN KEY ("unit_system_id") REFERENCES "public"."unit_systems"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "unit_preferences_owner_key" ON "unit_preferences" USING btree ("organization_id",coalesce("user_id", '00000000-0000-0000-0000-000000000000'::uuid));--> statement-breakpoint
CREATE INDEX "unit_preferences_system_idx" ON "unit_preferences" USING btree ("unit_system_id");