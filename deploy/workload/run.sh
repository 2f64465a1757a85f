#!/bin/sh
# Demo workload for docker-compose: pgbench's TPC-B-like transactions, pgvector similarity
# searches and a few deliberately slow reports, so every pgpulse dashboard has something to show.
# Runs against the postgres service as its owner (PG* environment variables set by compose).
set -eu
here=$(dirname "$0")
scale=${WORKLOAD_SCALE:-10}
rate=${WORKLOAD_RATE:-40}

until pg_isready -q; do sleep 1; done

# Initialise once: pgbench tables, then the vector table and its indexes (idempotent SQL).
if ! psql -qtAX -c "SELECT 1 FROM pgbench_accounts LIMIT 1" >/dev/null 2>&1; then
  echo "workload: pgbench -i -s $scale"
  pgbench -i -s "$scale" --quiet
fi
echo "workload: preparing vector data"
psql -v ON_ERROR_STOP=1 -qX -f "$here/vector-setup.sql"

# Run forever in 10-minute rounds (a crash or restart of postgres only costs one round).
# Weights: mostly OLTP, some vector searches, an occasional sequential-scan report.
while true; do
  pgbench -n -c 4 -j 2 -R "$rate" -T 600 -P 60 \
    -b tpcb-like@10 \
    -f "$here/vector-search.sql@4" \
    -f "$here/slow-report.sql@1" || { echo "workload: pgbench round failed, retrying in 10 s"; sleep 10; }
done
