#!/usr/bin/env bash
# What a forwarded lookup (scope=federation) adds to a local one: a city
# hub holds N certificates (certhub gen), a province hub (the root) admits
# it, and the same lookup by holder + type is timed at the city by a city
# department system, and at the province by a province department system
# whose call the province signs and forwards to the city (which checks it,
# runs it under its agreement for hub:330000/<consumer> and signs the
# answer). Embedded stores, loopback.
#   bash bench/federation-lookup.sh [count] [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
count=${1:-10000}
secs=${2:-15}
conns=${3:-1}
bench_build
P=127.0.0.1:18091
C=127.0.0.1:18092
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null; rm -rf "$work"' EXIT
ch() { "$work/certhub" "$@" --log-level warn; }
ch init --data "$work/city" --admin-token bench-admin >/dev/null
ch gen --data "$work/city" --count "$count" --holders-file "$work/holders" >/dev/null
ch init --data "$work/prov" --admin-token bench-admin >/dev/null
ch federation init --data "$work/prov" --root --hub-id 330000 --name 浙江省电子证照库 --url "http://$P" >/dev/null
ch federation root-key --data "$work/prov" --out "$work/root.json"
ch federation init --data "$work/city" --hub-id 330100 --name 杭州市电子证照库 --url "http://$C" \
  --parent 330000 --parent-url "http://$P" --root-key "$work/root.json" >/dev/null
ch federation describe --data "$work/city" --out "$work/city.jws"
ch federation admit --data "$work/prov" --child "$work/city.jws" >/dev/null
for h in prov:$P city:$C; do
  # Not through ch: $! must be the hub itself, for the trap to stop it.
  "$work/certhub" serve --data "$work/${h%%:*}" --addr "${h#*:}" --admin-token bench-admin --verify-rate 0 --federation-every 2s \
    --log-level warn 2>"$work/${h%%:*}.log" &
  pids+=($!)
done
wait_up "http://$P/healthz"
wait_up "http://$C/healthz"
type=${TYPE:-11330100MB0000002W001}
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
post() { curl -fsS -H 'Authorization: Bearer bench-admin' -X POST -d "$2" "$1"; }
# Department systems: one at the city, one at the province (known to the
# city as hub:330000/<id>), each with an agreement at the city.
post "http://$C/api/v1/purposes" '{"code":"bench","name":"benchmark","kind":"service_item"}' >/dev/null 2>&1 || true # gen may have made it
local_id=$(post "http://$C/api/v1/consumers" '{"name":"city bench","uscc":"91350100M000100Y43"}' | json '["id"]')
prov_id=$(post "http://$P/api/v1/consumers" '{"name":"province bench","uscc":"91350100M000100Y43"}' | json '["id"]')
post "http://$C/api/v1/consumers" "{\"id\":\"hub:330000/$prov_id\",\"name\":\"province bench\",\"uscc\":\"91350100M000100Y43\"}" >/dev/null
for who in "$local_id" "hub:330000/$prov_id"; do
  agr=$(curl -fsS -H 'Authorization: Bearer bench-admin' "http://$C/api/v1/types/$type" | python3 -c '
import datetime, json, sys
t = json.load(sys.stdin); today = datetime.date.today()
print(json.dumps({"consumer": sys.argv[1], "purposes": ["bench"], "rate_per_minute": 600000,
  "grants": [{"type": t["code"], "fields": [f["name"] for f in t["fields"]] + ["holder_name"]}],
  "valid_from": str(today - datetime.timedelta(days=1)), "valid_until": str(today + datetime.timedelta(days=30))}))' "$who" |
    curl -fsS -H 'Authorization: Bearer bench-admin' -X POST -d @- "http://$C/api/v1/agreements" | json '["id"]')
  post "http://$C/api/v1/agreements/$agr/approve" '{}' >/dev/null
done
local_token=$(post "http://$C/api/v1/consumers/$local_id/keys" '{"name":"bench"}' | json '["token"]')
prov_token=$(post "http://$P/api/v1/consumers/$prov_id/keys" '{"name":"bench"}' | json '["token"]')
sample=$(head -1 "$work/holders")
for _ in $(seq 1 300); do
  curl -fsS -H "Authorization: Bearer $prov_token" -H 'X-Purpose: bench' -H 'X-Case-Id: 1' \
    "http://$P/api/v1/certificates?scope=federation&type=$type&holder_id=$sample" >/dev/null 2>&1 && break
  sleep 0.2
done
echo "machine: $(nproc) cores, $(uname -sr); $count certificates at the city (embedded)"
for run in "local at the city:$C:$local_token:" "forwarded by the province:$P:$prov_token:federation"; do
  IFS=: read -r name host port token scope <<<"$run"
  echo "== $name, ${conns} connection(s), ${secs}s"
  env ${scope:+SCOPE=$scope} HOLDERS=$work/holders TYPE=$type TOKEN=$token wrk -t1 -c"$conns" -d"${secs}s" --latency -s bench/lookup.lua "http://$host:$port" \
    >"$work/wrk.out" 2>"$work/errors" || { echo "wrk failed:"; cat "$work/wrk.out" "$work/errors"; exit 1; }
  grep -E "Requests/sec|  (50|90|99)%" "$work/wrk.out"
  echo "non-200 answers: $(wc -l <"$work/errors")"; head -3 "$work/errors"
done
# What the hubs logged as errors, if anything.
grep -h '"level":"ERROR"' "$work/prov.log" "$work/city.log" | head -5 || true
