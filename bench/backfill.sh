#!/usr/bin/env bash
# Backfill N records from a PostgreSQL department table through a sql
# connector, into PostgreSQL + S3 (when the test servers are up) or the
# embedded default. Prints the rate and the hub's peak memory.
#   eval "$(bash .ci/services start)"; bash bench/backfill.sh 1000000 [embedded]
# BENCH_ALG=SM2 seals the documents with the authority's SM2 key (SM2SM3)
# instead of its ES256 one.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
where=${2:-postgres}
work=$(mktemp -d /tmp/certhub-bench-XXXXXX)
# BENCH_KEEP=1 keeps the data directory (and bench_hub) for bench/lookup.sh.
[ -n "${BENCH_KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
go build -o "$work/certhub" ./cmd/certhub
go run ./bench/sourcegen -url "$CERTHUB_TEST_DATABASE_URL" -schema bench_dept -n "$n"
export BENCH_SOURCE_DSN="${CERTHUB_TEST_DATABASE_URL}&search_path=bench_dept"
export CERTHUB_MASTER_KEY=${CERTHUB_MASTER_KEY:-$(head -c32 /dev/urandom | base64)} CERTHUB_LOG_LEVEL=${CERTHUB_LOG_LEVEL:-warn}
if [ "$where" = postgres ]; then
  psql "$CERTHUB_TEST_DATABASE_URL" -qc "DROP SCHEMA IF EXISTS bench_hub CASCADE; CREATE SCHEMA bench_hub"
  export CERTHUB_DATABASE_URL="${CERTHUB_TEST_DATABASE_URL}&search_path=bench_hub"
  export CERTHUB_S3_ENDPOINT=$CERTHUB_TEST_S3_ENDPOINT CERTHUB_S3_ACCESS_KEY=$CERTHUB_TEST_S3_ACCESS_KEY
  export CERTHUB_S3_SECRET_KEY=$CERTHUB_TEST_S3_SECRET_KEY CERTHUB_S3_BUCKET=bench-hub-$(date +%s)
fi
"$work/certhub" init --data "$work/data" >/dev/null             # console commands never create a hub
"$work/certhub" gen --data "$work/data" --count 0 >/dev/null   # the demo catalog
if [ -n "${BENCH_ALG:-}" ]; then
  "$work/certhub" keys document-key --data "$work/data" --authority 11330100MB0000001R --algorithm "$BENCH_ALG"
fi
"$work/certhub" connectors apply --data "$work/data" -f bench/backfill.yaml
echo "== backfill of $n records into $where, sealed with ${BENCH_ALG:-ES256}"
/usr/bin/time -v "$work/certhub" connectors run --data "$work/data" backfill 2>"$work/time" | tail -1
grep -E "Maximum resident|Elapsed|User time|System time|Percent of CPU" "$work/time"
[ -z "${BENCH_KEEP:-}" ] || echo "kept: data $work/data, schema bench_hub, bucket $CERTHUB_S3_BUCKET"
