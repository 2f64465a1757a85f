-- pgbench script: a report with no supporting index (abalance is not indexed), so it reads
-- pgbench_accounts sequentially: shows up as a slow statement and a seq-scan-heavy table.
\set floor random(-5000, 5000)
SELECT count(*), avg(abalance) FROM pgbench_accounts WHERE abalance > :floor;
