#!/usr/bin/env bash
# HTTP benchmark on loopback: POST /fhir/Claim/$submit (a PAS request for
# M0076 inpatient: decided from policy 183, pended for review, the request
# and its first event committed before the answer; each call a new Claim
# identifier) beside the trivial GET /healthz, in the same run, with wrk.
#
# Usage: scripts/bench-pas.sh [DURATION] [CONNECTIONS] [DATABASE-URL]
#   default: 10s, 32 connections, a fresh SQLite file.
# Needs wrk (Debian: apt-get install wrk) and python3 with `cryptography`
# (to sign the SMART client assertion with the test client's key).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10s}
CONNS=${2:-32}
WORK=$(mktemp -d)
DB=${3:-sqlite://$WORK/medpol.db}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
cargo build --release --quiet
KEYS=crates/medpol-server/tests/fixtures/keys
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$PORT"
RUST_LOG=warn target/release/medpol serve --addr "127.0.0.1:$PORT" --public-url "$URL" --database "$DB" \
  --pas-clients "$KEYS/clients.toml" --reviewer-token bench >"$WORK/out" 2>"$WORK/err" &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do grep -q listening "$WORK/out" && break; sleep 0.1; done
# A SMART Backend Services token for the test client (ES384 assertion).
TOKEN=$(python3 - "$URL" "$KEYS/es384.pem" <<'PY'
import base64, json, sys, time, uuid, urllib.request, urllib.parse
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
url, pem = sys.argv[1], sys.argv[2]
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
key = serialization.load_pem_private_key(open(pem, "rb").read(), None)
iss = "https://ehr.example.org"
head = b64(json.dumps({"alg": "ES384", "typ": "JWT", "kid": "es384-1"}).encode())
body = b64(json.dumps({"iss": iss, "sub": iss, "aud": url + "/auth/token", "exp": int(time.time()) + 280,
                        "iat": int(time.time()), "jti": str(uuid.uuid4())}).encode())
r, s = utils.decode_dss_signature(key.sign(f"{head}.{body}".encode(), ec.ECDSA(hashes.SHA384())))
jwt = f"{head}.{body}.{b64(r.to_bytes(48, 'big') + s.to_bytes(48, 'big'))}"
form = urllib.parse.urlencode({"grant_type": "client_credentials",
    "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    "client_assertion": jwt, "scope": "system/Claim.c"}).encode()
print(json.load(urllib.request.urlopen(url + "/auth/token", form))["access_token"])
PY
)
python3 - "$WORK" "$TOKEN" <<'PY'
import json, sys
work, token = sys.argv[1], sys.argv[2]
bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
  {"fullUrl": "urn:uuid:claim-1", "resource": {
    "resourceType": "Claim", "id": "claim-1", "status": "active", "use": "preauthorization",
    "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional"}]},
    "identifier": [{"system": "http://example.org/PATIENT_EVENT_TRACE_NUMBER", "value": "__ID__"}],
    "priority": {"coding": [{"code": "normal"}]},
    "patient": {"reference": "Patient/p1"}, "insurer": {"reference": "Organization/bcbsma"},
    "provider": {"reference": "Organization/clinic"}, "created": "2026-03-02T09:00:00Z",
    "insurance": [{"sequence": 1, "focal": True, "coverage": {"reference": "Coverage/cov1"}}],
    "diagnosis": [{"sequence": 1, "diagnosisCodeableConcept": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "M54.50"}]}}],
    "item": [{"sequence": 1,
      "extension": [{"url": "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-itemTraceNumber", "valueIdentifier": {"system": "http://example.org/ITEM", "value": "1"}}],
      "productOrService": {"coding": [{"system": "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "code": "M0076"}]},
      "locationCodeableConcept": {"coding": [{"system": "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set", "code": "21"}]},
      "servicedDate": "2026-03-20"}]}},
  {"resource": {"resourceType": "Patient", "id": "p1", "name": [{"family": "Bench"}], "birthDate": "1970-01-01"}},
  {"resource": {"resourceType": "Organization", "id": "bcbsma", "name": "Blue Cross Blue Shield of Massachusetts"}},
  {"resource": {"resourceType": "Organization", "id": "clinic", "name": "Clinic", "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "8189991234"}]}},
  {"resource": {"resourceType": "Coverage", "id": "cov1", "status": "active", "type": {"coding": [{"system": "https://nahdo.org/sopt", "code": "512"}]},
                "payor": [{"reference": "Organization/bcbsma"}], "beneficiary": {"reference": "Patient/p1"}}}]}
body = json.dumps(bundle)
with open(f"{work}/submit.lua", "w") as f:
    f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/fhir+json"\n'
            f'wrk.headers["Authorization"] = "Bearer {token}"\n'
            f'local template = {json.dumps(body)}\n'
            'local prefix = ""\nlocal i = 0\n'
            'init = function(args) math.randomseed(os.time() + math.floor(os.clock() * 1e6)); prefix = tostring(math.random(1, 1e9)) end\n'
            'request = function() i = i + 1; return wrk.format(nil, nil, nil, (string.gsub(template, "__ID__", prefix .. "-" .. i))) end\n')
print(f"request body: {len(body)} bytes")
PY
echo "server: $URL ($DB); wrk: 2 threads, $CONNS connections, $DURATION; cores: $(nproc) (shared by server and wrk)"
source scripts/wrk-summary.sh
T=$(wrk -t2 -c"$CONNS" -d"$DURATION" --latency "$URL/healthz")
S=$(wrk -t2 -c"$CONNS" -d"$DURATION" --latency -s "$WORK/submit.lua" "$URL/fhir/Claim/\$submit")
summarize "GET /healthz (trivial)" "$T"
summarize "POST Claim/\$submit (PAS)" "$S"
ratio '$submit' "$T" "$S"
