-- Runs once, when the postgres container initialises its data directory (docker-entrypoint-initdb.d).
-- The sampler's role is read-only: pg_monitor lets it see every backend's activity and statistics
-- without any write privilege. Its password comes from PGPULSE_MONITOR_PASSWORD (see 00-role.sh).
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
CREATE EXTENSION IF NOT EXISTS vector;
