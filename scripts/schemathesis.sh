#!/usr/bin/env bash
# Fuzzes the REST API from its own OpenAPI document with schemathesis (PyPI),
# every check on, against a real `medpol serve` on a fresh SQLite database.
# Usage: scripts/schemathesis.sh [EXAMPLES_PER_OPERATION]   (default 50)
# Needs: schemathesis on PATH (pip install 'schemathesis==4.32.5').
set -euo pipefail
cd "$(dirname "$0")/.."
examples="${1:-50}"
work="$(mktemp -d)"
trap 'kill "${pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
cargo build --quiet --bin medpol
# One token for both roles here, so that the reviewer's endpoints are
# fuzzed past their authentication too (in production they differ).
token="schemathesis-$(date +%s)"
target/debug/medpol serve --addr 127.0.0.1:0 --database "sqlite://$work/st.db" \
  --admin-token "$token" --reviewer-token "$token" >"$work/out" 2>"$work/err" &
pid=$!
for _ in $(seq 1 100); do
  url="$(sed -n 's/^medpol listening on //p' "$work/out")"
  [ -n "$url" ] && break
  sleep 0.2
done
if [ -z "${url:-}" ]; then
  echo "medpol serve did not start:"; cat "$work/err"; exit 1
fi
echo "== schemathesis against $url ($examples examples per operation, all checks)"
schemathesis --config-file scripts/schemathesis.toml run "$url/api/v1/openapi.json" \
  --url "$url" --checks all --max-examples "$examples" --seed "${SCHEMATHESIS_SEED:-1}" \
  --header "Authorization: Bearer $token" --continue-on-failure \
  --report junit --report-junit-path "$work/junit.xml"
