#!/usr/bin/env bash
# Benchmark a department lookup by holder + type against a store filled by
# `certhub gen --holders-file HOLDERS` (same CERTHUB_* settings as gen).
#   bash bench/lookup.sh HOLDERS [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
holders=$1
secs=${2:-20}
conns=${3:-32}
work=$(mktemp -d /tmp/certhub-bench-XXXXXX)
go build -o "$work/certhub" ./cmd/certhub
"$work/certhub" serve --data "${CERTHUB_DATA:-$work/data}" --addr 127.0.0.1:18084 --admin-token bench-admin --log-level warn 2>"$work/hub.log" &
hub=$!
trap 'kill $hub 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 300); do curl -fsS http://127.0.0.1:18084/healthz >/dev/null 2>&1 && break; sleep 0.1; done
type=${TYPE:-11330100MB0000002W001}
# A department system reading under an agreement over the type, for the
# purpose code "bench", as every consumer does.
api() { curl -fsS -H 'Authorization: Bearer bench-admin' "$@"; }
api -X POST -d '{"code":"bench","name":"benchmark","kind":"service_item"}' http://127.0.0.1:18084/api/v1/purposes >/dev/null 2>&1 || true
consumer=$(api -X POST -d '{"name":"bench","uscc":"91350100M000100Y43"}' http://127.0.0.1:18084/api/v1/consumers |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
agreement=$(api "http://127.0.0.1:18084/api/v1/types/$type" | python3 -c '
import datetime, json, sys
t = json.load(sys.stdin); today = datetime.date.today()
print(json.dumps({"consumer": sys.argv[1], "purposes": ["bench"], "rate_per_minute": 600000,
  "grants": [{"type": t["code"], "fields": [f["name"] for f in t["fields"]] + ["holder_name"]}],
  "valid_from": str(today - datetime.timedelta(days=1)), "valid_until": str(today + datetime.timedelta(days=30))}))' "$consumer" |
  api -X POST -d @- http://127.0.0.1:18084/api/v1/agreements | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
api -X POST -d '{}' "http://127.0.0.1:18084/api/v1/agreements/$agreement/approve" >/dev/null
token=$(api -X POST -d '{"name":"bench"}' "http://127.0.0.1:18084/api/v1/consumers/$consumer/keys" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
sample=$(head -1 "$holders")
echo "sample answer for one holder:"
curl -fsS -H "Authorization: Bearer $token" -H 'X-Purpose: bench' -H 'X-Case-Id: 1' \
  "http://127.0.0.1:18084/api/v1/certificates?type=$type&holder_id=$sample" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["certificates"]), "certificates")'
echo "== lookup by holder + type, ${conns} connections, ${secs}s"
HOLDERS=$holders TYPE=$type TOKEN=$token wrk -t2 -c"$conns" -d"${secs}s" --latency -s bench/lookup.lua http://127.0.0.1:18084 2>"$work/errors" |
  grep -E "Requests/sec|Latency|  (50|90|99)%|Non-2xx|Socket errors"
echo "non-200 answers: $(wc -l <"$work/errors")"; head -3 "$work/errors"
grep -E "VmHWM|VmRSS" /proc/$hub/status | tr -s ' ' | tr '\n' ' '; echo
