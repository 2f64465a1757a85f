#!/bin/sh
# Creates the read-only monitoring role the pgpulse sidecar connects as. Runs once at initdb time
# (docker-entrypoint-initdb.d), before 01-pgpulse.sql. The password is passed as a psql variable
# so it never appears in a process listing or the server log's statement text.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v monitor_password="$PGPULSE_MONITOR_PASSWORD" <<'SQL'
SELECT format('CREATE ROLE pgpulse LOGIN PASSWORD %L', :'monitor_password') \gexec
GRANT pg_monitor TO pgpulse;
-- the workload database is monitored; pgpulse never writes to it
GRANT CONNECT ON DATABASE app TO pgpulse;
SQL
