CREATE TABLE "rollup_dirty" (
	"series_id" bigint NOT NULL,
	"hour" timestamp with time zone NOT NULL,
	CONSTRAINT "rollup_dirty_pkey" PRIMARY KEY("series_id","hour")
);
--> statement-breakpoint
CREATE TABLE "rollups_1d" (
	"series_id" bigint NOT NULL,
	"bucket" timestamp with time zone NOT NULL,
	"n" integer NOT NULL,
	"sum" double precision,
	"min" double precision,
	"max" double precision,
	"m2" double precision,
	"first_ts" timestamp with time zone NOT NULL,
	"first_value" double precision,
	"first_text" text,
	"last_ts" timestamp with time zone NOT NULL,
	"last_value" double precision,
	"last_text" text,
	CONSTRAINT "rollups_1d_pkey" PRIMARY KEY("series_id","bucket")
);
--> statement-breakpoint
CREATE TABLE "rollups_1h" (
	"series_id" bigint NOT NULL,
	"bucket" timestamp with time zone NOT NULL,
	"n" integer NOT NULL,
	"sum" double precision,
	"min" double precision,
	"max" double precision,
	"m2" double precision,
	"first_ts" timestamp with time zone NOT NULL,
	"first_value" double precision,
	"first_text" text,
	"last_ts" timestamp with time zone NOT NULL,
	"last_value" double precision,
	"last_text" text,
	CONSTRAINT "rollups_1h_pkey" PRIMARY KEY("series_id","bucket")
);
--> statement-breakpoint
CREATE TABLE "rollups_1m" (
	"series_id" bigint NOT NULL,
	"bucket" timestamp with time zone NOT NULL,
	"n" integer NOT NULL,
	"sum" double precision,
	"min" double precision,
	"max" double precision,
	"m2" double precision,
	"first_ts" timestamp with time zone NOT NULL,
	"first_value" double precision,
	"first_text" text,
	"last_ts" timestamp with time zone NOT NULL,
	"last_value" double precision,
	"last_text" text,
	CONSTRAINT "rollups_1m_pkey" PRIMARY KEY("series_id","bucket")
);
