#!/usr/bin/env bash
# Benchmark GET /s/<token> with Accept: application/json (each request is a
# recorded view) on the embedded default, or on PostgreSQL + S3 when
# CERTHUB_TEST_DATABASE_URL and CERTHUB_TEST_S3_* are set. The share is made
# through the demo's own pages (demo sign-in, wallet form). Needs wrk.
#   bash bench/share.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
conns=${2:-32}
. bench/lib.sh
bench_build
hub=
trap 'kill $hub 2>/dev/null || true; bench_drop; rm -rf "$work"' EXIT
bench_target bench_share
base=http://127.0.0.1:18086
"$work/certhub" demo --data "$work/data" --addr 127.0.0.1:18086 --share-rate 0 --log-level warn >/dev/null 2>"$work/hub.log" &
hub=$!
wait_up $base/healthz
jar=$work/jar
curl -fsS -c "$jar" -b "$jar" $base/wallet/login -o /dev/null
csrf=$(awk '/certhub_csrf/ {print $7}' "$jar")
curl -fsS -c "$jar" -b "$jar" -d "csrf=$csrf&holder=0" $base/wallet/demo-login -o /dev/null
cid=$(curl -fsS -c "$jar" -b "$jar" $base/wallet | grep -o 'name="certificate_id" value="[^"]*"' | head -1 | cut -d'"' -f4)
curl -fsS -c "$jar" -b "$jar" --data-urlencode "csrf=$csrf" --data-urlencode "certificate_id=$cid" \
  --data-urlencode "expires_in_seconds=2592000" --data-urlencode "purpose=benchmark" $base/wallet/shares -o /dev/null
url=$(curl -fsS -c "$jar" -b "$jar" $base/wallet | grep -o 'class="share-url mono" href="[^"]*"' | head -1 | cut -d'"' -f4)
echo "share: ${url%/*}/… ($(curl -fsS -H 'Accept: application/json' "$url" | head -c 60)…)"
echo "== GET /s/<token> (JSON), $where, ${conns} connections, ${secs}s"
wrk -t2 -c"$conns" -d"${secs}s" --latency -H 'Accept: application/json' "$url" | grep -E "Requests/sec|Latency|  (50|90|99)%|Non-2xx|Socket errors"
rss $hub
