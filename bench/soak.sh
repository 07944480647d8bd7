#!/usr/bin/env bash
# The soak (docs/benchmarks.md, "Soak"): two hub replicas on one PostgreSQL
# + S3 store under mixed open-loop traffic from bench/soakgen (issuance,
# consumer lookups, verifications, share views, webhook deliveries to a
# receiver that checks each signature), with a connector run of
# SOAK_RECORDS (3000) records a third of the way in, a revocation probe,
# and dependency faults partway (below). Fails when any request failed
# (but a 503 while a fault lasts), a revoked certificate verified as valid
# anywhere 1 s after its revocation, a webhook is missing or doubled, the run's issuances do not
# reconcile with the store, RSS or goroutines grew, the connector run
# failed, or `certhub audit verify` does not pass afterwards.
#   eval "$(bash .ci/services start)"; bash bench/soak.sh [seconds] [outdir]
# Default 1800 s; results (soak.csv, soak-rss.svg, soak-p99.svg,
# summary.json, the hubs' logs) go to outdir, or a temporary directory
# printed at the end. SOAK_ARGS passes more flags to soakgen (rates:
# -issue 10 -lookup 50 -verify 100 -share-views 25 by default, half of what
# the mix sustained on the 2-core test machine: docs/benchmarks.md).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-1800}
out=${2:-}
records=${SOAK_RECORDS:-3000}
if [ -z "${CERTHUB_TEST_DATABASE_URL:-}" ] || [ -z "${CERTHUB_TEST_S3_ENDPOINT:-}" ]; then
  echo 'soak: needs PostgreSQL + S3: eval "$(bash .ci/services start)" first' >&2
  exit 2
fi
. bench/lib.sh
bench_build
go build -o "$work/soakgen" ./bench/soakgen
go build -o "$work/sourcegen" ./bench/sourcegen
go build -o "$work/s3fault" ./bench/s3fault
[ -n "$out" ] || out=$(mktemp -d /tmp/certhub-soak-XXXXXX)
mkdir -p "$out"
out=$(cd "$out" && pwd)
hubs=()
bg=
dept=
cleanup() {
  kill "${hubs[@]}" $bg ${profiler:-} ${faultproxy:-} 2>/dev/null || true
  wait 2>/dev/null || true
  bench_drop
  [ -z "$dept" ] || psql "$CERTHUB_TEST_DATABASE_URL" -qc "DROP SCHEMA $dept CASCADE" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
bench_target bench_soak

# Faults during the load (SOAK_FAULTS=0 turns them off): the object store
# answers 503 for 10 s at 45 % of the run (the replicas reach it through
# bench/s3fault), WAL replay on the read replica pauses for 10 s at 60 %
# (when the test servers have one: CERTHUB_TEST_DATABASE_READ_URL), and
# the replicas' LISTEN connections are ended at 75 %. The revocation probe
# runs throughout.
fault_args=()
if [ "${SOAK_FAULTS:-1}" = 1 ]; then
  "$work/s3fault" -target "$CERTHUB_S3_ENDPOINT" -addr-file "$work/s3fault.addr" 2>"$out/s3fault.log" &
  faultproxy=$!
  wait_file() { for _ in $(seq 1 100); do [ -s "$1" ] && return; sleep 0.1; done; echo "soak: no $1" >&2; exit 1; }
  wait_file "$work/s3fault.addr"
  export CERTHUB_S3_ENDPOINT=$(cat "$work/s3fault.addr")
  fault_args+=(-s3-fault "http://$CERTHUB_S3_ENDPOINT/__fault" -drop-listeners)
  if [ -n "${CERTHUB_TEST_DATABASE_READ_URL:-}" ]; then
    export CERTHUB_DATABASE_READ_URL="${CERTHUB_TEST_DATABASE_READ_URL}&search_path=$schema"
    fault_args+=(-standby-dsn "$CERTHUB_TEST_DATABASE_READ_URL")
  fi
fi

# Both replicas share the master key and admin token; rate limits are off
# (the load comes from one IP), and webhooks may target the receiver on
# loopback.
export CERTHUB_MASTER_KEY=$(head -c32 /dev/urandom | base64) CERTHUB_ADMIN_TOKEN=soak-admin-$RANDOM$RANDOM
# Profiles are on (--pprof): heap profiles early and late in the run go
# to outdir, with their difference, to say what any growth is.
export CERTHUB_PPROF=true CERTHUB_LOG_LEVEL=warn CERTHUB_VERIFY_RATE=0 CERTHUB_SHARE_RATE=0 CERTHUB_WEBHOOK_ALLOW=127.0.0.0/8
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pa=$(free_port)
pb=$(free_port)
a=http://127.0.0.1:$pa
b=http://127.0.0.1:$pb

# Replica A seeds the demo data set; B serves the same store.
mkdir -p "$work/a" "$work/b" "$work/c"
"$work/certhub" demo --data "$work/a" --addr "127.0.0.1:$pa" >"$work/a.out" 2>"$out/hub-a.log" &
hubs+=($!)
wait_up "$a/healthz"
"$work/certhub" serve --data "$work/b" --addr "127.0.0.1:$pb" 2>"$out/hub-b.log" &
hubs+=($!)
wait_up "$b/healthz"

# A share link, made through the demo's wallet pages (as bench/share.sh).
jar=$work/jar
curl -fsS -c "$jar" -b "$jar" "$a/wallet/login" -o /dev/null
csrf=$(awk '/certhub_csrf/ {print $7}' "$jar")
curl -fsS -c "$jar" -b "$jar" -d "csrf=$csrf&holder=0" "$a/wallet/demo-login" -o /dev/null
cid=$(curl -fsS -c "$jar" -b "$jar" "$a/wallet" | grep -o 'name="certificate_id" value="[^"]*"' | head -1 | cut -d'"' -f4)
curl -fsS -c "$jar" -b "$jar" --data-urlencode "csrf=$csrf" --data-urlencode "certificate_id=$cid" \
  --data-urlencode "expires_in_seconds=2592000" --data-urlencode "purpose=soak" "$a/wallet/shares" -o /dev/null
share=$(curl -fsS -c "$jar" -b "$jar" "$a/wallet" | grep -o 'class="share-url mono" href="[^"]*"' | head -1 | cut -d'"' -f4)
[ -n "$share" ] || { echo "soak: no share link from the wallet" >&2; exit 1; }

# The connector's department table and definition, ready before the load.
dept=soak_dept_$(date +%s)
"$work/sourcegen" -url "$CERTHUB_TEST_DATABASE_URL" -schema "$dept" -n "$records" >/dev/null
export BENCH_SOURCE_DSN="${CERTHUB_TEST_DATABASE_URL}&search_path=$dept"
"$work/certhub" connectors apply --data "$work/c" -f bench/backfill.yaml >/dev/null

echo "== soak: ${secs}s on $where, replicas $a (demo) and $b, connector of $records records at $((secs / 3))s; results in $out"
(
  sleep $((secs / 3))
  echo "connector run starts at $(date -u +%T)"
  "$work/certhub" connectors run --data "$work/c" backfill 2>/dev/null
) >"$out/connector.log" 2>&1 &
bg=$!
heap() { # heap NAME: each replica's heap profile now, as outdir/heap-<replica>-NAME.pb.gz
  local r u
  for r in a b; do
    u=$a; [ $r = a ] || u=$b
    curl -fsS -m 30 -H "Authorization: Bearer $CERTHUB_ADMIN_TOKEN" -o "$out/heap-$r-$1.pb.gz" "$u/debug/pprof/heap" || true
  done
}
(
  sleep $((secs / 6 > 20 ? secs / 6 : 20)); heap early
  sleep $((secs - (secs / 6 > 20 ? secs / 6 : 20) - 5)); heap late
) &
profiler=$!

status=0
# shellcheck disable=SC2086 # SOAK_ARGS is a list of flags
"$work/soakgen" -replica "$a@${hubs[0]}" -replica "$b@${hubs[1]}" -tokens "$work/a/demo-tokens.json" \
  -admin "$CERTHUB_ADMIN_TOKEN" -share "$share" -dsn "$CERTHUB_DATABASE_URL" -duration "${secs}s" -out "$out" "${fault_args[@]}" ${SOAK_ARGS:-} || status=1

if wait $bg && grep -q " succeeded in .*: $records seen, $records issued" "$out/connector.log"; then
  echo "ok   connector: $(tail -1 "$out/connector.log")"
else
  echo "FAIL connector: $(tail -1 "$out/connector.log")"
  status=1
fi
bg=
wait $profiler 2>/dev/null || true
for r in a b; do
  if [ -s "$out/heap-$r-early.pb.gz" ] && [ -s "$out/heap-$r-late.pb.gz" ]; then
    go tool pprof -sample_index=inuse_space -top -nodecount=25 -diff_base "$out/heap-$r-early.pb.gz" \
      "$out/heap-$r-late.pb.gz" >"$out/heap-$r-growth.txt" 2>&1 || true
    echo "heap growth of replica $r, late against early (go tool pprof): $out/heap-$r-growth.txt"
  fi
done
for p in "${hubs[@]}"; do echo "hub $p memory: $(rss "$p")"; done
# Stop the replicas (each signs a last ledger checkpoint), then check the
# whole ledger.
kill -TERM "${hubs[@]}"
wait "${hubs[@]}" 2>/dev/null || true
hubs=()
if "$work/certhub" audit verify --data "$work/c" >"$out/audit-verify.txt" 2>&1; then
  echo "ok   ledger: $(tail -1 "$out/audit-verify.txt")"
else
  echo "FAIL ledger: $(tail -3 "$out/audit-verify.txt")"
  status=1
fi
echo "results: $out"
exit $status
