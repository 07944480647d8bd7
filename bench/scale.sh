#!/usr/bin/env bash
# Fill one PostgreSQL + S3 store in stages with `certhub gen` (bulk path,
# ledger entry per certificate) and, at each stage, measure the store's
# disk footprint and five operations with wrk (issue 15, "province scale"):
# lookup by holder + type, lookup by id, verify, match and resolve.
#   eval "$(bash .ci/services start)"      # or the environment of running ones
#   bash bench/scale.sh 100000 10000000   # fill to 100k, measure, on to 10M, measure
# Sizes are totals. The schema and bucket are kept (and the data directory,
# which holds the master key the holder indexes are keyed with), so a later
# run goes on where the last one stopped; a size already reached is
# measured again without filling.
#
# Settings (environment):
#   SCALE_SCHEMA       schema, and bucket (with "-" for "_") (default scale)
#   SCALE_DATA         data directory (default /tmp/certhub-scale-$SCALE_SCHEMA)
#   SCALE_SECS         seconds per operation (15), SCALE_WARM seconds of
#                      unmeasured warm-up before each (5), SCALE_CONNS (32)
#   SCALE_BATCH        gen's batch (2000), SCALE_CONCURRENCY batches in flight (2)
#   SCALE_MIN_FREE_GB  stop the fill when free disk on / falls below (8)
#   SCALE_STOP_AT      stop the fill at this time (date -d syntax, e.g. 13:10)
#   SCALE_MINIO_DIR    MinIO's data directory, for the object bytes
#                      (default /tmp/certhub-services/minio, .ci/services')
#   SCALE_PACE         the same operations again at fixed rates, open loop
#                      while a connection is free (wrk with bench/paced.lua,
#                      SCALE_CONNS connections), for p99 at a given load
#                      rather than at saturation: "op=rate ..." (default
#                      "lookup=1700 by-id=2100 verify=2700 match=2100
#                      resolve=1400", half of what 100,000 certificates give
#                      on 2 cores; "" skips)
#   SCALE_STATIO=1     after each operation at saturation, the PostgreSQL
#                      blocks it read from outside shared buffers, and hit
#                      in them, per request, by table and index (where a
#                      larger store's requests pay: pg_statio_user_*), and
#                      the WAL the server wrote per request (pg_stat_wal)
#   SCALE_VACUUM=0     skip the VACUUM ANALYZE, the counts and the footprint
#                      before the operations (repeated runs on one store)
#   SCALE_OPS          the operations measured at saturation (default
#                      "lookup by-id verify match resolve")
#   SCALE_PROFILE=1    serve --pprof, and a CPU profile of the hub over each
#                      measured run in $SCALE_DATA/cpu-<operation>-<size>.pprof
#                      (go tool pprof -top certhub-binary file)
#   SCALE_TRACE=1      serve --pprof, and an execution trace of the hub over
#                      the first 5 s of each fixed-rate run in
#                      $SCALE_DATA/trace-<operation>-<size>.out (go tool trace)
# Beside each measured run, the hub's own view: the share of its requests
# that took it over 10, 30 and 50 ms (its latency histogram, scraped), and
# the store's write batches of the ledger and the resolution records: how
# many, their mean size, the share over 10 and 25 ms.
# A stopped fill is measured at the size it reached, and the run ends there.
# Results: one row per operation and stage in $SCALE_DATA/results.txt.
#
# Drop the store: psql "$CERTHUB_TEST_DATABASE_URL" -c 'DROP SCHEMA scale CASCADE';
# AWS_ACCESS_KEY_ID=$CERTHUB_TEST_S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$CERTHUB_TEST_S3_SECRET_KEY \
#   aws --endpoint-url http://$CERTHUB_TEST_S3_ENDPOINT s3 rb s3://scale --force
# (or any S3 client); rm -rf /tmp/certhub-scale-scale.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { sed -n 2,30p "$0"; exit 2; }
: "${CERTHUB_TEST_DATABASE_URL:?needs PostgreSQL + S3: eval \"\$(bash .ci/services start)\"}"
: "${CERTHUB_TEST_S3_ENDPOINT:?needs PostgreSQL + S3}"
. bench/lib.sh

schema=${SCALE_SCHEMA:-scale}
data=${SCALE_DATA:-/tmp/certhub-scale-$schema}
secs=${SCALE_SECS:-15}
warm=${SCALE_WARM:-5}
conns=${SCALE_CONNS:-32}
batch=${SCALE_BATCH:-2000}
conc=${SCALE_CONCURRENCY:-2}
min_free=${SCALE_MIN_FREE_GB:-8}
stop_at=
[ -z "${SCALE_STOP_AT:-}" ] || stop_at=$(date -d "$SCALE_STOP_AT" +%s)
minio_dir=${SCALE_MINIO_DIR:-/tmp/certhub-services/minio}
bucket=${schema//_/-}
addr=127.0.0.1:18190
base=http://$addr
export BENCH_ADMIN=bench-admin

bench_build
pace_rates=${SCALE_PACE-lookup=1700 by-id=2100 verify=2700 match=2100 resolve=1400}
hub=
trap '[ -z "$hub" ] || kill $hub 2>/dev/null || true; rm -rf "$work"' EXIT
psql "$CERTHUB_TEST_DATABASE_URL" -qc "CREATE SCHEMA IF NOT EXISTS $schema" 2>/dev/null
export CERTHUB_DATABASE_URL="${CERTHUB_TEST_DATABASE_URL}&search_path=$schema"
export CERTHUB_S3_ENDPOINT=$CERTHUB_TEST_S3_ENDPOINT CERTHUB_S3_ACCESS_KEY=$CERTHUB_TEST_S3_ACCESS_KEY
export CERTHUB_S3_SECRET_KEY=$CERTHUB_TEST_S3_SECRET_KEY CERTHUB_S3_BUCKET=$bucket
export CERTHUB_DATA=$data CERTHUB_LOG_LEVEL=warn
[ -f "$data/master-key" ] || "$work/certhub" init >/dev/null   # console commands never create a hub
"$work/certhub" gen --count 0 >/dev/null                           # the demo catalog
"$work/certhub" items import bench/resolve-item.yaml >/dev/null  # the item resolve asks for
pgurl="${CERTHUB_TEST_DATABASE_URL}&options=-csearch_path%3D$schema"  # psql's spelling of the schema
sql() { psql "$pgurl" -Atqc "$1"; }
free_gb() { df -BG --output=avail / | tail -1 | tr -dc 0-9; }
log() { echo "[$(date -u +%H:%M:%S)] $*"; }
echo "store: schema $schema, bucket $bucket, data $data; $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB"

stopped=
# fill_to N issues certificates up to N in all (through gen's bulk path),
# unless the disk or the clock says stop.
fill_to() {
  local target=$1 next t0 rc n
  next=$(cat "$data/next" 2>/dev/null || echo 0)
  [ "$next" -lt "$target" ] || return 0
  log "fill $next → $target (batches of $batch, $conc in flight)"
  t0=$(date +%s)
  "$work/certhub" gen --start "$next" --count $((target - next)) --batch "$batch" --concurrency "$conc" \
    >"$work/gen.out" 2>"$work/gen.err" &
  local gen=$! last=0
  while kill -0 $gen 2>/dev/null; do
    sleep 5
    if [ "$(free_gb)" -lt "$min_free" ]; then
      stopped="free disk below $min_free GB"
    elif [ -n "$stop_at" ] && [ "$(date +%s)" -ge "$stop_at" ]; then
      stopped="the time set by SCALE_STOP_AT ($SCALE_STOP_AT)"
    fi
    if [ -n "$stopped" ]; then
      log "stopping the fill: $stopped"
      kill $gen 2>/dev/null || true
      break
    fi
    if [ $(($(date +%s) - last)) -ge 60 ]; then
      last=$(date +%s)
      log "$(tail -1 "$work/gen.err" 2>/dev/null) free $(free_gb)G"
    fi
  done
  rc=0; wait $gen || rc=$?
  if [ -z "$stopped" ] && [ $rc -ne 0 ]; then
    cat "$work/gen.err" >&2; exit 1
  fi
  n=$(sql "SELECT count(*) FROM certificates")
  if [ -z "$stopped" ]; then
    echo "$target" >"$data/next"
  else
    echo "$n" >"$data/next"  # gen's batches are claimed in order: what committed is (about) a prefix
  fi
  local el=$(($(date +%s) - t0))
  log "filled to $n certificates: $((n - next)) in ${el}s, $(( (n - next) / (el > 0 ? el : 1) ))/s ($(cat "$work/gen.out"))"
  echo "fill $next → $n: $((n - next)) in ${el}s" >>"$data/results.txt"
}

# footprint prints each table of the schema (heap with TOAST, indexes)
# and the bucket's bytes, in all and per certificate.
footprint() {
  local n=$1 obj objs
  log "footprint at $n certificates"
  psql "$pgurl" -qP footer=off -c "
    SELECT c.relname AS table, c.reltuples::bigint AS rows,
           pg_size_pretty(pg_total_relation_size(c.oid)) AS total,
           pg_size_pretty(pg_total_relation_size(c.oid) - pg_indexes_size(c.oid)) AS heap_toast,
           pg_size_pretty(pg_indexes_size(c.oid)) AS indexes,
           round((pg_total_relation_size(c.oid) - pg_indexes_size(c.oid))::numeric / $n) AS heap_per_cert,
           round(pg_indexes_size(c.oid)::numeric / $n) AS index_per_cert
      FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
     WHERE s.nspname = '$schema' AND c.relkind = 'r' AND pg_total_relation_size(c.oid) > 65536
     ORDER BY pg_total_relation_size(c.oid) DESC"
  psql "$pgurl" -qP footer=off -c "
    SELECT i.relname AS index, t.relname AS of, pg_size_pretty(pg_relation_size(i.oid)) AS size,
           round(pg_relation_size(i.oid)::numeric / $n) AS per_cert
      FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
      JOIN pg_namespace s ON s.oid = t.relnamespace
     WHERE s.nspname = '$schema' AND pg_relation_size(i.oid) > 1048576 ORDER BY pg_relation_size(i.oid) DESC"
  local db
  db=$(sql "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace WHERE s.nspname = '$schema' AND c.relkind = 'r'")
  if [ -d "$minio_dir/$bucket" ]; then
    obj=$(du -sb "$minio_dir/$bucket" | cut -f1)
    objs=$(find "$minio_dir/$bucket" -name xl.meta | wc -l)
  else
    obj=0; objs="? (no $minio_dir/$bucket: set SCALE_MINIO_DIR)"
  fi
  echo "database (schema $schema): $db bytes, $((db / n)) per certificate"
  echo "objects (bucket $bucket, on disk): $obj bytes in $objs objects, $((obj / n)) per certificate"
  echo "footprint $n: database $db ($((db / n))/cert), objects $obj ($((obj / n))/cert)" >>"$data/results.txt"
}

# samples writes the load's inputs for a store of n certificates: people
# and companies spread over the whole population (gen), identifiers drawn
# from the whole table, and for 2,000 of them a claim to match (the
# holder's name and a field, as an applicant states) and a document to
# verify. With boto3 (Python), the documents to verify are instead all
# those of batch objects drawn at random, SCALE_VERIFY_DOCS (60,000) or a
# few more: more than the hub's status cache keeps (50,000 records), so
# that verification reads the database as it does for random certificates
# of a large store.
samples() {
  local n=$1 next pct
  next=$(cat "$data/next")
  "$work/certhub" gen --start "$next" --count 0 --holders-file "$work/people" --orgs-file "$work/orgs" --holders-sample 100000 >/dev/null
  pct=$(python3 -c "print(min(100, 100 * 30000 / $n))")
  sql "SELECT id FROM certificates TABLESAMPLE BERNOULLI ($pct) LIMIT 20000" >"$work/ids"
  python3 - "$base" "$work" <<'PY'
import http.client, json, random, sys
base, work = sys.argv[1], sys.argv[2]
conn = http.client.HTTPConnection(base.split("//")[1])
def get(path):
    conn.request("GET", path, headers={"Authorization": "Bearer bench-admin"})
    r = conn.getresponse(); body = r.read()
    if r.status != 200:
        raise SystemExit("GET %s: %d %s" % (path, r.status, body[:200]))
    return body
ids = open(work + "/ids").read().split()
random.seed(1)
with open(work + "/verify", "w") as v, open(work + "/match", "w") as m:
    for cid in random.sample(ids, min(2000, len(ids))):
        c = json.loads(get("/api/v1/certificates/" + cid))
        doc = get("/api/v1/certificates/%s/document" % cid).decode().strip()
        v.write(json.dumps({"document": doc}) + "\n")
        field = sorted(k for k, x in c["data"].items() if isinstance(x, (str, int, float)))[0]
        m.write(json.dumps({"type": c["type"], "holder_id": c["holder"]["id"],
                            "fields": {"holder_name": c["holder"]["name"], field: c["data"][field]}}, ensure_ascii=False) + "\n")
PY
  if python3 -c 'import boto3' 2>/dev/null; then
    sql "SELECT document_key FROM (SELECT DISTINCT document_key FROM certificates TABLESAMPLE BERNOULLI ($pct)) k ORDER BY random()" |
      python3 -c '
import boto3, json, os, sys
s3 = boto3.client("s3", endpoint_url="http://" + os.environ["CERTHUB_S3_ENDPOINT"], region_name="us-east-1",
                  aws_access_key_id=os.environ["CERTHUB_S3_ACCESS_KEY"], aws_secret_access_key=os.environ["CERTHUB_S3_SECRET_KEY"])
n, want = 0, int(sys.argv[2])
with open(sys.argv[1], "w") as out:
    for key in sys.stdin.read().split():
        # a batch object is its documents, one a line
        for line in s3.get_object(Bucket=os.environ["CERTHUB_S3_BUCKET"], Key=key)["Body"].read().decode().split("\n"):
            if line.strip():
                out.write(json.dumps({"document": line.strip()}) + "\n"); n += 1
        if n >= want:
            break
' "$work/verify" "${SCALE_VERIFY_DOCS:-60000}"
  fi
  echo "samples: $(wc -l <"$work/people") people, $(wc -l <"$work/orgs") companies, $(wc -l <"$work/ids") ids, $(wc -l <"$work/match") claims, $(wc -l <"$work/verify") documents"
}

# measure VACUUMs, measures the footprint and runs the five operations.
measure() {
  local n t
  n=$(sql "SELECT count(*) FROM certificates")
  log "== stage: $n certificates"
  if [ "${SCALE_VACUUM:-1}" = 1 ]; then
    log "VACUUM ANALYZE"
    for t in $(sql "SELECT tablename FROM pg_tables WHERE schemaname = '$schema'"); do sql "VACUUM ANALYZE $t"; done
    log "certificates by type, holders, ledger, outbox:"
    sql "SELECT type_code, count(*) FROM certificates GROUP BY 1 ORDER BY 1" | sed 's/^/  /'
    echo "  distinct holders: $(sql "SELECT count(DISTINCT holder_index) FROM certificates"), ledger entries: $(sql "SELECT count(*) FROM audit_log"), outbox events: $(sql "SELECT count(*) FROM events")"
    footprint "$n"
  fi
  env ${SCALE_PROFILE:+CERTHUB_PPROF=1} ${SCALE_TRACE:+CERTHUB_PPROF=1} "$work/certhub" serve --addr $addr --admin-token $BENCH_ADMIN --verify-rate 0 2>"$work/hub.log" &
  hub=$!
  wait_up $base/healthz
  samples "$n"
  local types='[{"type":"11330100MB0000002W001"},{"type":"11330102MB0000003W001"},{"type":"11330100MB00000043001"},{"type":"11330100MB0000001R001"},{"type":"11330100MB0000001R002"}]'
  bench_consumer $base '["bench", "BENCH-SP-001"]' "$types"
  local ltype=11330100MB0000002W001 sample
  sample=$(head -1 "$work/people")
  echo "sample lookup: $(curl -fsS -H "Authorization: Bearer $token" -H 'X-Purpose: bench' -H 'X-Case-Id: 1' \
    "$base/api/v1/certificates?type=$ltype&holder_id=$sample" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["certificates"]), "certificates")')"
  export TOKEN=$token HOLDERS=$work/people TYPE=$ltype IDS=$work/ids ITEM=BENCH-SP-001
  statio() { # the schema's block counters: relation read hit
    sql "SELECT relname, heap_blks_read + coalesce(toast_blks_read, 0), heap_blks_hit + coalesce(toast_blks_hit, 0)
           FROM pg_statio_user_tables WHERE schemaname = '$schema'
         UNION ALL SELECT indexrelname, idx_blks_read, idx_blks_hit FROM pg_statio_user_indexes WHERE schemaname = '$schema'
         UNION ALL SELECT '(wal)', wal_bytes::bigint, wal_fpi FROM pg_stat_wal"
  }
  # hubside NAME ROUTE BEFORE AFTER: the hub's own view of a run, from
  # certhub_http_request_duration_seconds scraped before and after it: the
  # share of the route's requests that took the hub over 10, 30 and 50 ms
  # (from the router to the handler's return). Beside the load
  # generator's p99 it tells the hub's tail from the wait for a core and a
  # connection that the generator, sharing the machine, also counts.
  hubside() {
    python3 - "$@" <<'PY' | tee -a "$work/rows"
import re, sys
name, route, before, after = sys.argv[1:5]
def load(p, metric, key, want):
    out = {}
    for labels, v in re.findall(r'^' + metric + r'\{(.*)\} (\S+)$', open(p).read(), re.M):
        kv = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        if kv.get(key) == want:
            out[kv.get("le", "")] = out.get(kv.get("le", ""), 0) + float(v)
    return out
def delta(metric, key, want):
    a, b = load(before, metric, key, want), load(after, metric, key, want)
    return {le: b[le] - a.get(le, 0) for le in b}
d = delta("certhub_http_request_duration_seconds_bucket", "route", route)
total = d.get("+Inf", 0)
if total <= 0:
    sys.exit()
over = lambda le: 100 * (total - d[le]) / total
print("  %s hub-side: %d requests, over 10 ms %.2f %%, over 30 ms %.2f %%, over 50 ms %.2f %%" % (name, total, over("0.01"), over("0.03"), over("0.05")))
# The store's write batches over the run (certhub_store_batch_*): how
# many, their mean size, and the share over 10 and 25 ms.
for queue in ("ledger", "resolutions"):
    t = delta("certhub_store_batch_seconds_bucket", "queue", queue)
    n = t.get("+Inf", 0)
    if n <= 0:
        continue
    reqs = delta("certhub_store_batch_requests_sum", "queue", queue).get("", 0)
    print("  %s %s batches: %d, %.1f requests each, over 10 ms %.2f %%, over 25 ms %.2f %%" % (
        name, queue, n, reqs / n, 100 * (n - t["0.01"]) / n, 100 * (n - t["0.025"]) / n))
PY
  }
  scrape() { curl -fsS "$base/metrics" >"$1"; }
  route() {
    case $1 in
      lookup) echo /api/v1/certificates ;; by-id) echo '/api/v1/certificates/{id}' ;;
      verify) echo /api/v1/verify ;; match) echo /api/v1/match ;;
      resolve) echo '/api/v1/service-items/{code}/resolve' ;;
    esac
  }
  run() { # name lua path [env]
    local name=$1 lua=$2 row
    if [ "$warm" -gt 0 ]; then
      wrk -t2 -c"$conns" -d"${warm}s" -s "$lua" "$base" >/dev/null 2>&1 || true
    fi
    [ -z "${SCALE_STATIO:-}" ] || statio >"$work/statio.before"
    local prof=
    if [ -n "${SCALE_PROFILE:-}" ]; then
      curl -fsS -H "Authorization: Bearer $BENCH_ADMIN" -o "$data/cpu-$name-$n.pprof" \
        "$base/debug/pprof/profile?seconds=$((secs - 1))" &
      prof=$!
    fi
    # The machine's load average over the last minute, beside: other work on
    # the same cores shows there.
    scrape "$work/metrics.before"
    row="$(bench_wrk "$name" "$lua" "$base" "$conns" "$secs")  load $(cut -d' ' -f1 /proc/loadavg)"
    echo "$row" | tee -a "$work/rows"
    scrape "$work/metrics.after"
    hubside "$name" "$(route "$name")" "$work/metrics.before" "$work/metrics.after"
    [ -z "$prof" ] || wait $prof
    if [ -n "${SCALE_STATIO:-}" ]; then
      sleep 1  # backends report their counters within a second
      statio >"$work/statio.after"
      python3 - "$work/statio.before" "$work/statio.after" "$(echo "$row" | awk '{print $2 * '"$secs"'}')" "$name" <<'PY' | tee -a "$work/rows"
import sys
def load(p):
    out = {}
    for line in open(p):
        name, read, hit = line.strip().split("|")
        out[name] = (int(read or 0), int(hit or 0))
    return out
a, b, n, op = load(sys.argv[1]), load(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
d = {k: (b[k][0] - a.get(k, (0, 0))[0], b[k][1] - a.get(k, (0, 0))[1]) for k in b}
wal_bytes, wal_fpi = d.pop("(wal)")  # the whole server's, over the run
rows = sorted((v for v in d.items() if v[1][0] or v[1][1]), key=lambda kv: -(kv[1][0] * 10 + kv[1][1]))[:8]
print("  %s blocks per request, read/hit: " % op + ", ".join("%s %.2f/%.2f" % (k, r / n, h / n) for k, (r, h) in rows))
print("  %s WAL per request: %.0f bytes, %.2f full-page images" % (op, wal_bytes / n, wal_fpi / n))
PY
    fi
  }
  # paced NAME RATE LUA: the operation at RATE requests a second through
  # bench/paced.lua (open loop while one of the connections is free), with
  # the hub's own view and how late the requests were sent.
  paced() {
    local name=$1@$2 rate=$2 lua=$3 row
    if [ "$warm" -gt 0 ]; then
      SCRIPT=$lua RATE=$rate THREADS=2 wrk -t2 -c"$conns" -d"${warm}s" -s bench/paced.lua "$base" >/dev/null 2>&1 || true
    fi
    scrape "$work/metrics.before"
    row="$(SCRIPT=$lua RATE=$rate THREADS=2 bench_wrk "$name" bench/paced.lua "$base" "$conns" "$secs")  load $(cut -d' ' -f1 /proc/loadavg)"
    echo "$row" | tee -a "$work/rows"
    echo "  $name $(grep '^late:' "$work/wrk-$name.out")" | tee -a "$work/rows"
    scrape "$work/metrics.after"
    hubside "$name" "$(route "$1")" "$work/metrics.before" "$work/metrics.after"
  }
  : >"$work/rows"
  log "== $n certificates: $conns connections, ${secs}s each (after ${warm}s of warm-up)"
  printf "%-10s %10s %8s %8s %8s\n" operation req/s p50_ms p99_ms non-2xx
  local ops=" ${SCALE_OPS:-lookup by-id verify match resolve} "
  [[ $ops != *" lookup "* ]] || run lookup bench/lookup.lua
  [[ $ops != *" by-id "* ]] || run by-id bench/byid.lua
  [[ $ops != *" verify "* ]] || (unset TOKEN; BODIES=$work/verify TARGET=/api/v1/verify run verify bench/bodies.lua)
  [[ $ops != *" match "* ]] || BODIES=$work/match TARGET=/api/v1/match run match bench/bodies.lua
  [[ $ops != *" resolve "* ]] || HOLDERS=$work/orgs run resolve bench/resolve.lua
  if [ -n "$pace_rates" ]; then
    log "== $n certificates: fixed rates (bench/paced.lua), $conns connections, ${secs}s each"
    printf "%-10s %10s %8s %8s %8s\n" operation sent/s p50_ms p99_ms non-2xx
    local op rate
    for op in $pace_rates; do
      rate=${op#*=}; op=${op%%=*}
      local trace=
      if [ -n "${SCALE_TRACE:-}" ]; then
        curl -fsS -H "Authorization: Bearer $BENCH_ADMIN" -o "$data/trace-$op-$n.out" \
          "$base/debug/pprof/trace?seconds=$((secs < 6 ? secs : 5))" &
        trace=$!
      fi
      case $op in
        lookup) paced lookup "$rate" bench/lookup.lua ;;
        by-id) paced by-id "$rate" bench/byid.lua ;;
        verify) (unset TOKEN; BODIES=$work/verify TARGET=/api/v1/verify paced verify "$rate" bench/bodies.lua) ;;
        match) BODIES=$work/match TARGET=/api/v1/match paced match "$rate" bench/bodies.lua ;;
        resolve) HOLDERS=$work/orgs paced resolve "$rate" bench/resolve.lua ;;
        *) echo "SCALE_PACE: unknown operation $op" >&2; exit 2 ;;
      esac
      [ -z "$trace" ] || wait $trace
    done
  fi
  echo "hub memory: $(rss $hub)"
  for f in "$work"/wrk-*.err; do [ -s "$f" ] && { echo "$(basename "$f"): $(wc -l <"$f") errors, e.g."; head -2 "$f"; }; done
  sed "s/^/$n /" "$work/rows" >>"$data/results.txt"
  kill $hub; wait $hub 2>/dev/null || true; hub=
}

for size in "$@"; do
  fill_to "$size"
  measure
  [ -z "$stopped" ] || { log "fill stopped ($stopped): measured at the size reached"; break; }
done
log "done; kept: schema $schema, bucket $bucket, data $data; results in $data/results.txt"
