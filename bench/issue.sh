#!/usr/bin/env bash
# Benchmark issuance through the API (POST /api/v1/certificates: validate,
# seal, write the document, index) into PostgreSQL + S3, or the embedded
# default when CERTHUB_TEST_DATABASE_URL is unset. Needs wrk.
#   bash bench/issue.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
conns=${2:-32}
work=$(mktemp -d /tmp/certhub-bench-XXXXXX)
go build -o "$work/certhub" ./cmd/certhub
trap 'kill $hub 2>/dev/null || true; rm -rf "$work"' EXIT
where="embedded (SQLite + directory)"
if [ -n "${CERTHUB_TEST_DATABASE_URL:-}" ] && [ -n "${CERTHUB_TEST_S3_ENDPOINT:-}" ]; then
  schema=bench_issue_$(date +%s)
  psql "$CERTHUB_TEST_DATABASE_URL" -qc "CREATE SCHEMA $schema" >/dev/null
  export CERTHUB_DATABASE_URL="${CERTHUB_TEST_DATABASE_URL}&search_path=$schema"
  export CERTHUB_S3_ENDPOINT=$CERTHUB_TEST_S3_ENDPOINT CERTHUB_S3_ACCESS_KEY=$CERTHUB_TEST_S3_ACCESS_KEY
  export CERTHUB_S3_SECRET_KEY=$CERTHUB_TEST_S3_SECRET_KEY CERTHUB_S3_BUCKET=${schema//_/-}
  where="PostgreSQL + S3"
fi
"$work/certhub" demo --data "$work/data" --addr 127.0.0.1:18083 >/dev/null 2>"$work/hub.log" &
hub=$!
for _ in $(seq 1 300); do curl -fsS http://127.0.0.1:18083/healthz >/dev/null 2>&1 && break; sleep 0.1; done
echo "== issuance through the API, $where, ${conns} connections, ${secs}s"
TOKEN=demo-admin-token wrk -t2 -c"$conns" -d"${secs}s" --latency -s bench/issue.lua http://127.0.0.1:18083 2>"$work/errors" |
  grep -E "Requests/sec|Latency|  (50|90|99)%|Non-2xx|Socket errors"
echo "non-201 answers: $(wc -l <"$work/errors")"; head -3 "$work/errors"
grep -E "VmHWM|VmRSS" /proc/$hub/status | tr -s ' ' | tr '\n' ' '; echo
[ -z "${schema:-}" ] || psql "$CERTHUB_TEST_DATABASE_URL" -qc "DROP SCHEMA $schema CASCADE" 2>/dev/null >/dev/null
