#!/usr/bin/env bash
# HTTP benchmark on loopback: POST /api/v1/determinations (decided, and
# recorded in the decision log before the answer) beside the trivial JSON
# endpoint GET /healthz, in the same run, with wrk.
#
# Usage: scripts/bench-serve.sh [DURATION] [CONNECTIONS] [DATABASE-URL]
#   default: 10s, 32 connections, a fresh SQLite file (a PostgreSQL URL
#   names an existing, preferably empty, database).
# Needs wrk (Debian: apt-get install wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10s}
CONNS=${2:-32}
WORK=$(mktemp -d)
DB=${3:-sqlite://$WORK/medpol.db}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
cargo build --release --quiet
# CDS Hooks without client authentication: the benchmark measures deciding a
# hook, not verifying a JWT (each token may be used once).
RUST_LOG=warn target/release/medpol serve --addr 127.0.0.1:0 --database "$DB" --cds-insecure-dev-mode >"$WORK/out" 2>"$WORK/err" &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do grep -q listening "$WORK/out" && break; sleep 0.1; done
URL=$(sed -n 's/^medpol listening on //p' "$WORK/out")
cat > "$WORK/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local bodies = {
  '{"product":"commercial-ppo","setting":"outpatient","date":"2025-06-01","lines":[{"code":{"system":"hcpcs","code":"M0076"}}]}',
  '{"product":"medicare-hmo-blue","setting":"21","date":"2015-06-01","lines":[{"code":{"system":"hcpcs","code":"M0076"}},{"code":{"system":"cpt","code":"99213"}}]}',
  '{"product":"commercial-hmo","setting":"outpatient","date":"2025-06-01","lines":[{"code":{"system":"cpt","code":"99213"}}]}',
}
local i = 0
request = function()
  i = i + 1
  return wrk.format(nil, nil, nil, bodies[(i % #bodies) + 1])
end
LUA
# order-sign with a full prefetch (the CRD guide's example, its order coded M0076).
python3 - "$WORK" <<'PY'
import json, sys
work = sys.argv[1]
req = json.load(open("../shared/crd-examples/davinci-crd-ig_order-sign_CRDServiceRequest.json"))
order = req["context"]["draftOrders"]["entry"][0]["resource"]
order["code"] = {"coding": [{"system": "https://bluebutton.cms.gov/resources/codesystem/hcpcs", "code": "M0076"}]}
# The example's Coverage names another payer; make it a BCBSMA PPO so the order is decided (and logged).
for entry in req["prefetch"]["coverage"]["entry"]:
    entry["resource"]["payor"] = [{"display": "Blue Cross Blue Shield of Massachusetts"}]
body = json.dumps(req)
with open(f"{work}/cds.lua", "w") as f:
    f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = ' + json.dumps(body) + '\n')
PY
echo "server: $URL ($DB); wrk: 2 threads, $CONNS connections, $DURATION; cores: $(nproc) (shared by server and wrk)"
source scripts/wrk-summary.sh
T=$(wrk -t2 -c"$CONNS" -d"$DURATION" --latency "$URL/healthz")
D=$(wrk -t2 -c"$CONNS" -d"$DURATION" --latency -s "$WORK/post.lua" "$URL/api/v1/determinations")
C=$(wrk -t2 -c"$CONNS" -d"$DURATION" --latency -s "$WORK/cds.lua" "$URL/cds-services/order-sign-crd")
# The floor for that request: the same 24 KB body posted to a service that
# does not exist (received in full, answered 404 without being parsed).
F=$(wrk -t2 -c"$CONNS" -d"$DURATION" --latency -s "$WORK/cds.lua" "$URL/cds-services/no-such-service")
summarize "GET /healthz (trivial)" "$T"
summarize "POST /api/v1/determinations" "$D"
summarize "POST order-sign (CDS Hooks)" "$C"
summarize "POST 24 KB, unparsed (404)" "$F" | sed 's/non-2xx.*/(all 404: the floor for a 24 KB body)/'
ratio "determinations" "$T" "$D"
ratio "order-sign" "$T" "$C"
ratio "24 KB floor" "$T" "$F"
