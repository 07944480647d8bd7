# Shared by the bench/*.sh scripts: source it after `cd` to the repository.

# bench_build makes $work (removed on exit) with the certhub binary in it.
bench_build() {
  work=$(mktemp -d /tmp/certhub-bench-XXXXXX)
  go build -o "$work/certhub" ./cmd/certhub
}

# bench_target points the hub at PostgreSQL + S3 (a fresh schema and
# bucket named after $1) when the test servers are up, else leaves the
# embedded default; it sets $where and $schema.
bench_target() {
  where="embedded (SQLite + directory)"
  schema=
  if [ -n "${CERTHUB_TEST_DATABASE_URL:-}" ] && [ -n "${CERTHUB_TEST_S3_ENDPOINT:-}" ]; then
    schema=${1}_$(date +%s)
    psql "$CERTHUB_TEST_DATABASE_URL" -qc "CREATE SCHEMA $schema" >/dev/null
    export CERTHUB_DATABASE_URL="${CERTHUB_TEST_DATABASE_URL}&search_path=$schema"
    export CERTHUB_S3_ENDPOINT=$CERTHUB_TEST_S3_ENDPOINT CERTHUB_S3_ACCESS_KEY=$CERTHUB_TEST_S3_ACCESS_KEY
    export CERTHUB_S3_SECRET_KEY=$CERTHUB_TEST_S3_SECRET_KEY CERTHUB_S3_BUCKET=${schema//_/-}
    where="PostgreSQL + S3"
  fi
}

# bench_drop removes what bench_target made in PostgreSQL.
bench_drop() {
  [ -z "${schema:-}" ] || psql "$CERTHUB_TEST_DATABASE_URL" -qc "DROP SCHEMA $schema CASCADE" >/dev/null 2>&1 || true
}

# wait_up waits until a URL answers.
wait_up() {
  for _ in $(seq 1 300); do curl -fsS "$1" >/dev/null 2>&1 && return; sleep 0.1; done
  echo "not up: $1" >&2
  exit 1
}

# rss prints a process's resident memory (peak and current).
rss() { grep -E "VmHWM|VmRSS" "/proc/$1/status" | tr -s ' ' | tr '\n' ' '; echo; }

# bench_consumer BASE PURPOSES GRANTS registers a department system on the
# hub at BASE, as a department would: a consumer, an approved agreement
# for the purpose codes PURPOSES (a JSON array; missing ones are created)
# over GRANTS (a JSON array of {"type": …, "fields": […]}; without
# "fields", all the type's fields and holder_name), and an API key. It
# sets $token. The admin token is $BENCH_ADMIN (default bench-admin).
bench_consumer() {
  token=$(python3 - "$1" "${BENCH_ADMIN:-bench-admin}" "$2" "$3" <<'PY'
import datetime, json, sys, urllib.error, urllib.request
base, admin, purposes, grants = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
def api(path, body=None):
    req = urllib.request.Request(base + path, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": "Bearer " + admin, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        raise SystemExit("bench_consumer: %s: %s %s" % (path, e.code, e.read().decode()[:300]))
for p in purposes:
    try:
        api("/api/v1/purposes", {"code": p, "name": "benchmark " + p, "kind": "service_item"})
    except SystemExit:
        pass  # already in the catalog
consumer = api("/api/v1/consumers", {"name": "bench", "uscc": "91350100M000100Y43"})["id"]
for g in grants:
    if "fields" not in g:
        g["fields"] = [f["name"] for f in api("/api/v1/types/" + g["type"])["fields"]] + ["holder_name"]
today = datetime.date.today()
agreement = api("/api/v1/agreements", {"consumer": consumer, "purposes": purposes, "rate_per_minute": 600000, "grants": grants,
                                       "valid_from": str(today - datetime.timedelta(days=1)),
                                       "valid_until": str(today + datetime.timedelta(days=30))})["id"]
api("/api/v1/agreements/%s/approve" % agreement, {})
print(api("/api/v1/consumers/%s/keys" % consumer, {"name": "bench"})["token"])
PY
)
}

# bench_wrk NAME LUA URL [conns] [secs] runs wrk (2 threads) with a bench/*.lua
# script (its settings in the environment) and prints one row:
#   NAME req/s p50 p99 non-2xx (latencies in ms)
# The wrk output is kept in $work/wrk-NAME.out, what the script wrote to
# stderr (non-200 answers) in $work/wrk-NAME.err.
bench_wrk() {
  local name=$1 lua=$2 url=$3 conns=${4:-32} secs=${5:-15}
  wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$lua" "$url" >"$work/wrk-$name.out" 2>"$work/wrk-$name.err" || true
  awk -v name="$name" -v errs="$(wc -l <"$work/wrk-$name.err")" '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /m$/) return v * 60000; return v * 1000 }
    $1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) }
    /^Requests\/sec/ { rps = $2 } /Non-2xx/ { bad = $NF } /Socket errors/ { sock = $0 }
    END { printf "%-10s %10.0f %8.2f %8.2f %8d%s\n", name, rps, p50, p99, bad + 0, (sock != "" ? "  (" sock ")" : "") }' "$work/wrk-$name.out"
}
