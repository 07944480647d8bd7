#!/usr/bin/env bash
# Benchmark POST /api/v1/verify with a document, on the embedded default and
# (if CERTHUB_TEST_DATABASE_URL and CERTHUB_TEST_S3_* are set, e.g. by
# `eval "$(bash .ci/services start)"`) on PostgreSQL + S3, beside the bare
# chi+jwx baseline and a stock JOSE verifier (npm jose in a minimal Node
# server, bench/jose), in one run. Needs wrk (Debian package), node and npm.
#   bash bench/verify.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
conns=${2:-32}
. bench/lib.sh
bench_build
go build -o "$work/verify-baseline" ./cmd/verify-baseline
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

run_wrk() { # name url
  echo "== $1"
  BODY=$work/body.json wrk -t2 -c"$conns" -d"${secs}s" --latency -s bench/post.lua "$2" | grep -E "Requests/sec|Latency|  (50|90|99)%|Non-2xx|Socket errors"
}

# Embedded default, with the demo data set (254 certificates).
"$work/certhub" demo --data "$work/embedded" --addr 127.0.0.1:18081 --verify-rate 0 >"$work/demo.out" 2>"$work/embedded.log" &
pids+=($!); hub=$!
wait_up http://127.0.0.1:18081/healthz
# A certificate identifier the demo printed (1.2.156.3005.2.…).
id=$(grep -o "1\.2\.156[^\"' ]*" "$work/demo.out" | head -1)
doc=$(curl -fsS -H 'Authorization: Bearer demo-admin-token' "http://127.0.0.1:18081/api/v1/certificates/$id/document")
printf '{"document":"%s"}' "$doc" >"$work/body.json"
echo "document: ${#doc} bytes"
curl -fsS -X POST -d @"$work/body.json" http://127.0.0.1:18081/api/v1/verify | head -c 200; echo
curl -fsS http://127.0.0.1:18081/.well-known/jwks.json >"$work/jwks-all.json"
# the baseline verifies with the key that sealed the document
kid=$(echo "$doc" | cut -d. -f1 | base64 -d 2>/dev/null | grep -o '"kid":"[^"]*"' | cut -d'"' -f4 || true)
python3 -c "import json,sys; s=json.load(open('$work/jwks-all.json')); print(json.dumps({'keys':[k for k in s['keys'] if k['kid']=='$kid']}))" >"$work/jwks.json"

"$work/verify-baseline" --addr 127.0.0.1:18090 --jwks "$work/jwks.json" 2>/dev/null &
pids+=($!)
sleep 0.5
curl -fsS -X POST -d @"$work/body.json" http://127.0.0.1:18090/verify; echo

# The stock JOSE verifier: npm jose, installed into the work directory.
npm install --no-save --no-audit --no-fund --prefix "$work/node" jose@6 >/dev/null 2>&1
cp bench/jose/server.mjs "$work/node/"
(cd "$work/node" && node server.mjs 18091 "$work/jwks.json") &
pids+=($!)
wait_up_post() { for _ in $(seq 1 100); do curl -fsS -X POST -d @"$work/body.json" "$1" >/dev/null 2>&1 && return; sleep 0.1; done; echo "not up: $1" >&2; exit 1; }
wait_up_post http://127.0.0.1:18091/verify
curl -fsS -X POST -d @"$work/body.json" http://127.0.0.1:18091/verify; echo

run_wrk "baseline: bare chi + jwx ES256 verify" http://127.0.0.1:18090/verify
run_wrk "stock JOSE: npm jose in a minimal Node server" http://127.0.0.1:18091/verify
run_wrk "hub, embedded (SQLite + directory)" http://127.0.0.1:18081/api/v1/verify
echo "hub memory: $(rss $hub)"
kill $hub; wait $hub 2>/dev/null || true

bench_target bench_verify
if [ -n "$schema" ]; then
  "$work/certhub" demo --data "$work/pg" --addr 127.0.0.1:18082 --verify-rate 0 >"$work/demo-pg.out" 2>"$work/pg.log" &
  pids+=($!); hub=$!
  wait_up http://127.0.0.1:18082/healthz
  id=$(grep -o "1\.2\.156[^\"']*" "$work/demo-pg.out" | head -1)
  doc=$(curl -fsS -H 'Authorization: Bearer demo-admin-token' "http://127.0.0.1:18082/api/v1/certificates/$id/document")
  printf '{"document":"%s"}' "$doc" >"$work/body.json"
  run_wrk "hub, PostgreSQL + S3" http://127.0.0.1:18082/api/v1/verify
  echo "hub memory: $(rss $hub)"
  bench_drop
fi
rm -rf "$work"
