#!/usr/bin/env bash
# Aggregation upward (issue 14) between two hub processes on PostgreSQL +
# MinIO (a schema and a bucket each, on the same servers): the child, the
# city 330100 (the demo catalog's region), pushes to its parent, the
# province 330000.
#   eval "$(bash .ci/services start)"
#   bash bench/federation.sh backfill 1000000  # the child joins holding N certificates
#   bash bench/federation.sh lag 60            # the child issues RATE/s (1,000) for N seconds
# backfill: the child's certificates are made by `certhub gen --batch`
# (the bulk path's batch objects) before it joins; the time is from the
# child's start to all N at the parent.
# lag: the child issues through the bulk path (batches of 100, paced) while
# it pushes; lag is the parent's time of receipt minus the child's issue
# time, per certificate, plus the push's own apply time (its request
# duration in the parent's log), reported apart.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
mode=${1:-backfill}
n=${2:-100000}
rate=${RATE:-1000}
: "${CERTHUB_TEST_DATABASE_URL:?start the test servers: eval \"\$(bash .ci/services start)\"}"
bench_build
stamp=$(date +%s)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for h in parent child; do psql "$CERTHUB_TEST_DATABASE_URL" -qc "DROP SCHEMA IF EXISTS fed_${h}_$stamp CASCADE" >/dev/null 2>&1 || true; done
  [ -n "${BENCH_KEEP:-}" ] && echo "kept: $work" || rm -rf "$work"
}
trap cleanup EXIT
export CERTHUB_S3_ENDPOINT=$CERTHUB_TEST_S3_ENDPOINT CERTHUB_S3_ACCESS_KEY=$CERTHUB_TEST_S3_ACCESS_KEY
export CERTHUB_S3_SECRET_KEY=$CERTHUB_TEST_S3_SECRET_KEY CERTHUB_LOG_LEVEL=${CERTHUB_LOG_LEVEL:-info}
for h in parent child; do
  psql "$CERTHUB_TEST_DATABASE_URL" -qc "CREATE SCHEMA fed_${h}_$stamp" >/dev/null
  head -c32 /dev/urandom | base64 >"$work/$h.key"
done
# hub NAME ARGS… runs certhub as that hub.
hub() {
  local h=$1
  shift
  CERTHUB_DATABASE_URL="${CERTHUB_TEST_DATABASE_URL}&search_path=fed_${h}_$stamp" CERTHUB_S3_BUCKET="fed-$h-$stamp" \
    CERTHUB_MASTER_KEY=$(cat "$work/$h.key") "$work/certhub" "$@" --data "$work/$h"
}
# serve NAME PORT LOG runs that hub's server in the background (the
# process itself, so that it is the one stopped at the end).
serve() {
  local h=$1 port=$2 log=$3
  CERTHUB_DATABASE_URL="${CERTHUB_TEST_DATABASE_URL}&search_path=fed_${h}_$stamp" CERTHUB_S3_BUCKET="fed-$h-$stamp" \
    CERTHUB_MASTER_KEY=$(cat "$work/$h.key") exec "$work/certhub" serve --addr "127.0.0.1:$port" --data "$work/$h" >/dev/null 2>"$log"
}
# parent_sql QUERY runs a query on the parent's schema.
parent_sql() { psql "$CERTHUB_TEST_DATABASE_URL" -Atqc "SET search_path = fed_parent_$stamp; $1"; }
pp=$((20000 + RANDOM % 20000))
cp=$((pp + 1))

set -x
hub parent init >/dev/null 2>&1
hub child init >/dev/null 2>&1
hub parent federation init --root --hub-id 330000 --name 浙江省电子证照库 --url "http://127.0.0.1:$pp" >/dev/null 2>&1
hub parent federation root-key --out "$work/root.json" >/dev/null 2>&1
hub child gen --count 0 >/dev/null 2>&1 # the demo catalog
set +x
total=0
if [ "$mode" = backfill ]; then
  echo "== the child issues $n certificates through the bulk path before it joins"
  hub child gen --count "$n" --batch 1000 --concurrency 2 2>/dev/null | tail -1
  total=$n
fi
hub child federation init --hub-id 330100 --name 杭州市电子证照库 --url "http://127.0.0.1:$cp" --parent 330000 \
  --parent-url "http://127.0.0.1:$pp" --root-key "$work/root.json" >/dev/null 2>&1
hub child federation describe --out "$work/child.jws" >/dev/null 2>&1
hub parent federation admit --child "$work/child.jws" >/dev/null 2>&1
serve parent "$pp" "$work/parent.log" &
pids+=($!)
parent=$!
wait_up "http://127.0.0.1:$pp/healthz"
started=$(date +%s.%N)
serve child "$cp" "$work/child.log" &
pids+=($!)
child=$!
wait_up "http://127.0.0.1:$cp/healthz"

# until_parent_holds N waits until the parent holds N of the child's versions.
until_parent_holds() {
  local got=0
  while :; do
    got=$(parent_sql "SELECT count(*) FROM federated_certificates")
    [ "$got" -ge "$1" ] && break
    kill -0 "$child" 2>/dev/null || { echo "the child died:"; tail -5 "$work/child.log"; exit 1; }
    printf '%s: %s/%s at the parent\n' "$(date +%T)" "$got" "$1" >&2
    sleep 5
  done
}

if [ "$mode" = backfill ]; then
  until_parent_holds "$total"
  done_at=$(date +%s.%N)
  el=$(echo "$done_at - $started" | bc)
  echo "== backfill: $total certificates at the parent $(printf %.1f "$el") s after the child started: $(echo "$total / $el" | bc)/s"
  echo "   (polled every 5 s; the child waits 10 s for its outbox to settle before the first page)"
  parent_sql "SELECT 'parent received from ' || min(updated_at) || ' to ' || max(updated_at) || ': ' ||
    round(count(*) / GREATEST(extract(epoch FROM max(updated_at) - min(updated_at)), 0.001)) || '/s' FROM federated_certificates"
  parent_sql "SELECT 'batch objects: ' || count(DISTINCT document_key) FROM federated_certificates"
else
  echo "== the child issues $rate/s for $n s through the bulk path (batches of 100) while it pushes"
  total=$((rate * n))
  hub child gen --count "$total" --batch 100 --rate "$rate" --concurrency 4 --seed 7 2>/dev/null | tail -1
  until_parent_holds "$total"
  parent_sql "SELECT 'lag (receipt at the parent - issue at the child), s: p50 ' ||
      round(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM updated_at - issued_at))::numeric, 3) || ', p99 ' ||
      round(percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM updated_at - issued_at))::numeric, 3) || ', max ' ||
      round(max(extract(epoch FROM updated_at - issued_at))::numeric, 3) || ' over ' || count(*) FROM federated_certificates"
  grep '"route":"/api/v1/federation/aggregate"' "$work/parent.log" | sed -E 's/.*"duration":([0-9]+).*/\1/' | sort -n |
    awk '{d[NR]=$1} END {if (!NR) exit; h=int(NR*0.5)+1; n=int(NR*0.99)+1; if (n>NR) n=NR
      printf "push apply (request duration at the parent), ms: p50 %.1f, p99 %.1f, max %.1f over %d pushes\n", d[h]/1e6, d[n]/1e6, d[NR]/1e6, NR}'
fi
echo "child: $(rss "$child")"
echo "parent: $(rss "$parent")"
grep -E '"level":"(WARN|ERROR)"' "$work/child.log" "$work/parent.log" | grep -v "generated\|bootstrap" | head -5 || true
