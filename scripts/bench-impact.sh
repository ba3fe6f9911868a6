#!/usr/bin/env bash
# Impact-analysis benchmark: N synthetic claim lines (default 10,000,000)
# against 10,000 synthetic policies, 1% of which are changed in the proposed
# catalogue (investigational becomes medically necessary in 100 policies,
# spread over the catalogue, that have an investigational statement or
# table). Runs `medpol screen` and `medpol impact` on the same file,
# alternately, PAIRS times (default 3), and prints the median time of each
# (policy loading excluded: both report their own), the throughput, and the
# ratio.
#
# Usage: scripts/bench-impact.sh [LINES] [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
LINES=${1:-10000000}
WORK=${2:-$(mktemp -d)}
PAIRS=${PAIRS:-3}
cargo build --release --quiet
M=target/release/medpol
[ -d "$WORK/policies" ] || $M synth policies --count 10000 --out "$WORK/policies" >/dev/null
if [ ! -d "$WORK/proposed" ]; then
  cp -r "$WORK/policies" "$WORK/proposed"
  # 100 policies (1%), spread over the catalogue, among those that have an
  # investigational statement or table to change.
  grep -rl 'status = "investigational"' "$WORK/proposed" --include='*.toml' | sort > "$WORK/candidates"
  step=$(( $(wc -l < "$WORK/candidates") / 100 ))
  awk -v s="$step" 'NR % s == 0' "$WORK/candidates" | head -100 \
    | xargs sed -i 's/status = "investigational"/status = "medically-necessary"/g'
fi
changed=$( (diff -rq "$WORK/policies" "$WORK/proposed" || true) | wc -l)
[ -f "$WORK/claims-$LINES.csv" ] || $M synth claims --lines "$LINES" --policies "$WORK/policies" --out "$WORK/claims-$LINES.csv" 2>/dev/null
echo "input: $LINES lines, $(du -h "$WORK/claims-$LINES.csv" | cut -f1); policies: 10,000, $changed changed; cores: $(nproc)"
screens=(); impacts=()
for _ in $(seq 1 "$PAIRS"); do
  s=$($M screen "$WORK/claims-$LINES.csv" --policies "$WORK/policies" --out /dev/null 2>&1 >/dev/null \
      | sed -n 's/^screened [0-9]* lines in \([0-9.]*\) s.*/\1/p')
  i=$($M impact --proposed "$WORK/proposed" --policies "$WORK/policies" --claims "$WORK/claims-$LINES.csv" \
      --changed "$WORK/changed.csv" 2>/dev/null | tee "$WORK/impact.txt" | sed -n '1s/.* in \([0-9.]*\) s$/\1/p')
  screens+=("$s"); impacts+=("$i")
  echo "pair: screen $s s, impact $i s"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
S=$(median "${screens[@]}"); I=$(median "${impacts[@]}")
awk -v s="$S" -v i="$I" -v n="$LINES" 'BEGIN {
  printf "screen  %7.2f s %10.0f lines/s\nimpact  %7.2f s %10.0f lines/s\nratio impact/screen: %.2f\n", s, n/s, i, n/i, i/s }'
head -3 "$WORK/impact.txt"
echo "changed lines written: $(($(wc -l < "$WORK/changed.csv") - 1))"
