#!/usr/bin/env bash
# Benchmark POST /api/v1/service-items/{code}/resolve (an item of 8
# materials, bench/resolve-item.yaml) against a store filled by
# `BENCH_KEEP=1 bash bench/backfill.sh 1000000` (same CERTHUB_* settings and
# CERTHUB_MASTER_KEY), for applicants listed one a line in HOLDERS.
#   bash bench/resolve.sh HOLDERS [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
holders=$1
secs=${2:-20}
conns=${3:-32}
. bench/lib.sh
bench_build
"$work/certhub" items import bench/resolve-item.yaml --data "${CERTHUB_DATA:-$work/data}" --log-level warn
"$work/certhub" serve --data "${CERTHUB_DATA:-$work/data}" --addr 127.0.0.1:18085 --admin-token bench-admin --log-level warn 2>"$work/hub.log" &
hub=$!
trap 'kill $hub 2>/dev/null || true; rm -rf "$work"' EXIT
wait_up http://127.0.0.1:18085/healthz
item=BENCH-SP-001
bench_consumer http://127.0.0.1:18085 '["'$item'"]' '[{"type": "11330100MB0000001R002", "fields": ["holder_name", "permit_no", "address"]},
  {"type": "11330100MB0000001R001", "fields": ["holder_name", "legal_representative"]},
  {"type": "11330100MB0000002W001", "fields": ["location"]}]'
sample=$(head -1 "$holders")
echo "sample answer for one applicant:"
curl -fsS -H "Authorization: Bearer $token" -X POST "http://127.0.0.1:18085/api/v1/service-items/$item/resolve" \
  -d '{"applicant":{"id":"'$sample'"},"case_id":"sample","purpose":"'$item'"}' |
  python3 -c 'import json,sys; a=json.load(sys.stdin); print([m["outcome"] for m in a["materials"]], "avoided", a["avoided"], "of", a["required"])'
echo "== resolve, 8 materials, ${conns} connections, ${secs}s"
HOLDERS=$holders ITEM=$item TOKEN=$token wrk -t2 -c"$conns" -d"${secs}s" --latency -s bench/resolve.lua http://127.0.0.1:18085 2>"$work/errors" |
  grep -E "Requests/sec|Latency|  (50|90|99)%|Non-2xx|Socket errors"
echo "non-200 answers: $(wc -l <"$work/errors")"; head -3 "$work/errors"
grep -E "VmHWM|VmRSS" /proc/$hub/status | tr -s ' ' | tr '\n' ' '; echo
