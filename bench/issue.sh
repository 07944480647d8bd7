#!/usr/bin/env bash
# Benchmark issuance through the API (POST /api/v1/certificates: validate,
# seal, write the document, index) into PostgreSQL + S3, or the embedded
# default when CERTHUB_TEST_DATABASE_URL is unset. Needs wrk.
#   bash bench/issue.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
conns=${2:-32}
. bench/lib.sh
bench_build
hub=
trap 'kill $hub 2>/dev/null || true; bench_drop; rm -rf "$work"' EXIT
bench_target bench_issue
"$work/certhub" demo --data "$work/data" --addr 127.0.0.1:18083 >/dev/null 2>"$work/hub.log" &
hub=$!
wait_up http://127.0.0.1:18083/healthz
echo "== issuance through the API, $where, ${conns} connections, ${secs}s"
TOKEN=demo-admin-token wrk -t2 -c"$conns" -d"${secs}s" --latency -s bench/issue.lua http://127.0.0.1:18083 2>"$work/errors" |
  grep -E "Requests/sec|Latency|  (50|90|99)%|Non-2xx|Socket errors"
echo "non-201 answers: $(wc -l <"$work/errors")"; head -3 "$work/errors"
rss $hub
