#!/usr/bin/env bash
# Benchmark a department lookup by holder + type against a store filled by
# `certhub gen --holders-file HOLDERS` (same CERTHUB_* settings as gen).
#   bash bench/lookup.sh HOLDERS [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
holders=$1
secs=${2:-20}
conns=${3:-32}
. bench/lib.sh
bench_build
"$work/certhub" serve --data "${CERTHUB_DATA:-$work/data}" --addr 127.0.0.1:18084 --admin-token bench-admin --log-level warn 2>"$work/hub.log" &
hub=$!
trap 'kill $hub 2>/dev/null || true; rm -rf "$work"' EXIT
wait_up http://127.0.0.1:18084/healthz
type=${TYPE:-11330100MB0000002W001}
# A department system reading under an agreement over the type (all its
# fields), for the purpose code "bench", as every consumer does.
bench_consumer http://127.0.0.1:18084 '["bench"]' '[{"type":"'$type'"}]'
sample=$(head -1 "$holders")
echo "sample answer for one holder:"
curl -fsS -H "Authorization: Bearer $token" -H 'X-Purpose: bench' -H 'X-Case-Id: 1' \
  "http://127.0.0.1:18084/api/v1/certificates?type=$type&holder_id=$sample" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["certificates"]), "certificates")'
echo "== lookup by holder + type, ${conns} connections, ${secs}s"
HOLDERS=$holders TYPE=$type TOKEN=$token wrk -t2 -c"$conns" -d"${secs}s" --latency -s bench/lookup.lua http://127.0.0.1:18084 2>"$work/errors" |
  grep -E "Requests/sec|Latency|  (50|90|99)%|Non-2xx|Socket errors"
echo "non-200 answers: $(wc -l <"$work/errors")"; head -3 "$work/errors"
grep -E "VmHWM|VmRSS" /proc/$hub/status | tr -s ' ' | tr '\n' ' '; echo
