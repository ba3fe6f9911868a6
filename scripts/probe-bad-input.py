#!/usr/bin/env python3
"""Sends hand-made bad input to a running `medpol serve` (REST and CDS Hooks)
and checks what every answer must hold: no 5xx, a JSON error (an
OperationOutcome on /cds-services) of at most 2 kB whatever was sent, no
markup echoed, `X-Content-Type-Options: nosniff`; and that nothing refused
reached the decision log. Prints the counts; exits 1 on any violation.

Usage: scripts/probe-bad-input.py BASE_URL ADMIN_TOKEN
(start the server with --cds-insecure-dev-mode to reach CDS decisions)."""
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

base, token = sys.argv[1].rstrip("/"), sys.argv[2]
MEG = "x" * (1 << 20)
MARK = "<script>alert(1)</script>"


def call(method, path, body=None, ctype="application/json", headers=None):
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None and ctype:
        req.add_header("content-type", ctype)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()
    except (ConnectionResetError, BrokenPipeError, urllib.error.URLError) as e:
        return 0, {}, str(e).encode()


def det(**over):
    d = {"product": "commercial-ppo", "setting": "outpatient", "date": "2025-06-01",
         "lines": [{"code": {"system": "hcpcs", "code": "M0076"}}]}
    d.update(over)
    return json.dumps(d)


def log_size():
    _, _, b = call("GET", "/api/v1/decisions?limit=10000", headers={"authorization": f"Bearer {token}"})
    return len(json.loads(b))


line = lambda c, s="hcpcs": {"code": {"system": s, "code": c}}
rest = [det(product=""), det(product=MEG), det(product=MARK), det(payer=MARK), det(setting="home"),
        det(setting="Inpatient "), det(setting="00"), det(date="2025-6-1"), det(date=" 2025-06-01"),
        det(date="2025-06-01\n"), det(date="0000-01-01"), det(date="+10000-01-01"), det(date=MEG[:5000]),
        det(lines=[]), det(lines=[line("M007")]), det(lines=[line(" M0076")]), det(lines=[line(MARK)]),
        det(lines=[line("M54.50", "icd10cm")]), det(lines=[line("M0076", "loinc")]),
        det(lines=[{"code": {"system": "hcpcs", "code": "M0076", "x": 1}}]),
        det(lines=[{"code": {"system": "hcpcs", "code": "M0076"}, "modifiers": ["RTX"]}]),
        det(lines=[line("M0076")] * 1001), det(diagnoses=[{"system": "cpt", "code": "99213"}]),
        det(diagnoses=[{"system": "icd10cm", "code": "M54.50"}] * 101), det(extra=1),
        "{", "[]", "null", "\"x\"", "{\"product\": 1}", "\xff\xfe", ""]
violations, answers = [], 0
before = log_size()


def check(where, st, h, b, cds=False):
    global answers
    answers += 1
    if st == 0 or st >= 500:
        violations.append(f"{where}: status {st}")
    if len(b) > 2048:
        violations.append(f"{where}: {len(b)} bytes answered")
    if b"<script>" in b or b"<b>" in b:
        violations.append(f"{where}: markup echoed")
    if h.get("X-Content-Type-Options", h.get("x-content-type-options")) != "nosniff":
        violations.append(f"{where}: no nosniff")
    try:
        j = json.loads(b)
        if cds and st >= 400 and j.get("resourceType") != "OperationOutcome":
            violations.append(f"{where}: not an OperationOutcome")
    except ValueError:
        violations.append(f"{where}: not JSON: {b[:80]!r}")


for i, body in enumerate(rest):
    st, h, b = call("POST", "/api/v1/determinations", body)
    if st == 200:
        violations.append(f"determinations #{i}: accepted")
    check(f"determinations #{i}", st, h, b)
for path in ["/api/v1/policies/%3Cscript%3E/1", "/api/v1/policies/bcbsma/" + "9" * 5000,
             "/api/v1/policies?limit=-1", "/api/v1/policies?limit=0", "/api/v1/policies?code=1&code=2",
             "/api/v1/policies?system=cpt4", "/api/v1/policies/bcbsma/183?date=2025-6-1",
             "/api/v1/decisions?limit=-1", "/api/v1/nothing"]:
    st, h, b = call("GET", path)
    check(path[:60], st, h, b)
for q in ["limit=0", "limit=-1", "outcome=" + urllib.parse.quote(MARK), "from=" + MEG[:3000]]:
    st, h, b = call("GET", f"/api/v1/decisions?{q}", headers={"authorization": f"bearer {token}"})
    check(f"decisions?{q[:20]}", st, h, b)
hook = lambda ctx: json.dumps({"hook": "order-sign", "hookInstance": "h", "context": ctx})
cds = [hook({"draftOrders": "x"}), hook({"draftOrders": [None]}), hook({"draftOrders": 1}),
       hook({"draftOrders": {"resourceType": "Bundle", "entry": "x"}}), hook("x"), "{", "[]",
       json.dumps({"hook": MARK, "hookInstance": "h", "context": {}}),
       json.dumps({"hook": "order-sign", "hookInstance": "h", "context": {"draftOrders": {}},
                   "extension": {"davinci-crd.requestedVersion": MARK}}),
       json.dumps({"pad": MEG})]
for i, body in enumerate(cds):
    st, h, b = call("POST", "/cds-services/order-sign-crd", body)
    check(f"cds #{i}", st, h, b, cds=True)
st, h, b = call("POST", "/cds-services/%3Cb%3Ex%3C%2Fb%3E", "{}")
check("cds unknown service", st, h, b, cds=True)
after = log_size()
if after != before:
    violations.append(f"the decision log grew by {after - before} on refused input")
print(f"{answers} bad inputs answered; {len(violations)} violations; decision log {before} -> {after}")
for v in violations:
    print("  " + v)
sys.exit(1 if violations else 0)
