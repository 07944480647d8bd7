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
