#!/usr/bin/env bash
# How fast webhook subscribers catch up after a backfill: a subscriber of
# the food permit's issuance (bench/hookcount, on loopback) is registered,
# then a sql connector backfills N records (bench/backfill.yaml) into
# PostgreSQL + S3 through a running hub; the script reports the ingest
# time, when the last event reached the subscriber and the delivery rate.
#   eval "$(bash .ci/services start)"; bash bench/webhooks.sh 200000
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200000}
. bench/lib.sh
bench_build
go build -o "$work/hookcount" ./bench/hookcount
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; bench_drop; rm -rf "$work"' EXIT
bench_target bench_hooks
[ -n "$schema" ] || { echo "needs the test servers: eval \"\$(bash .ci/services start)\"" >&2; exit 1; }
go run ./bench/sourcegen -url "$CERTHUB_TEST_DATABASE_URL" -schema bench_dept -n "$n" >/dev/null
export BENCH_SOURCE_DSN="${CERTHUB_TEST_DATABASE_URL}&search_path=bench_dept"
export CERTHUB_MASTER_KEY=$(head -c32 /dev/urandom | base64) CERTHUB_LOG_LEVEL=warn CERTHUB_ADMIN_TOKEN=bench-admin
"$work/certhub" init --data "$work/data" >/dev/null
"$work/certhub" gen --data "$work/data" --count 0 >/dev/null
"$work/certhub" connectors apply --data "$work/data" -f bench/backfill.yaml >/dev/null
base=http://127.0.0.1:18096
"$work/certhub" serve --data "$work/data" --addr 127.0.0.1:18096 --webhook-allow 127.0.0.0/8 2>"$work/serve.log" &
pids+=($!); hub=$!
wait_up $base/healthz
bench_consumer $base '["BENCH-HOOKS"]' '[{"type": "11330100MB0000001R002"}]'
"$work/hookcount" -addr-file "$work/hook.url" -want "$n" >"$work/hook.log" &
pids+=($!); rcv=$!
for _ in $(seq 1 100); do [ -s "$work/hook.url" ] && break; sleep 0.1; done
curl -fsS -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' $base/api/v1/subscriptions \
  -d "{\"url\": \"$(cat "$work/hook.url")\", \"types\": [\"11330100MB0000001R002\"], \"events\": [\"issued\"]}" >/dev/null
echo "== backfill of $n records with a subscriber of their issuance"
t0=$(date +%s.%N)
curl -fsS -X POST -H 'Authorization: Bearer bench-admin' $base/api/v1/connectors/backfill/run | python3 -c 'import json,sys; r=json.load(sys.stdin); print("run:", r.get("status"), r.get("issued"), "issued")'
t1=$(date +%s.%N)
wait $rcv
t2=$(date +%s.%N)
tail -1 "$work/hook.log"
python3 -c "t0,t1,t2=$t0,$t1,$t2; n=$n; print(f'ingest {t1-t0:.1f} s ({n/(t1-t0):.0f}/s); every event delivered {t2-t0:.1f} s after the run began, {t2-t1:.1f} s after it ended')"
echo "hub memory: $(rss $hub)"
