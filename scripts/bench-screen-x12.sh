#!/usr/bin/env bash
# X12 screening benchmark: the same synthetic claims as CSV and as X12 837
# files (one seed), against 10,000 synthetic policies, on one core: lines per
# second for each, the ratio X12 / CSV, and peak memory (GNU time's max RSS)
# at two file sizes (memory should not grow with the file).
#
# Usage: scripts/bench-screen-x12.sh [LINES] [WORKDIR]   (LINES default 2,000,000;
#        the second size is 4 × LINES)
set -euo pipefail
cd "$(dirname "$0")/.."
LINES=${1:-2000000}
WORK=${2:-$(mktemp -d)}
cargo build --release --quiet
M=target/release/medpol
[ -d "$WORK/policies" ] || $M synth policies --count 10000 --out "$WORK/policies" >/dev/null
pin="taskset -c 0"

measure() { # label lines args...: median of three runs (screening time, peak RSS)
  local label=$1 n=$2; shift 2
  local runs=()
  for _ in 1 2 3; do
    local err secs rss
    err=$( { /usr/bin/time -f 'maxrss %M' $pin "$M" "$@" >/dev/null; } 2>&1 )
    secs=$(echo "$err" | sed -n 's/^screened [0-9]* lines in \([0-9.]*\) s.*/\1/p')
    rss=$(echo "$err" | sed -n 's/^maxrss //p')
    runs+=("$secs $rss")
  done
  printf '%s\n' "${runs[@]}" | sort -n | sed -n 2p | awk -v l="$label" -v n="$n" '{printf "%-24s %7.2f s %10.0f lines/s  peak RSS %5.0f MiB\n", l, $1, n/$1, $2/1024}'
}

for n in "$LINES" $((LINES * 4)); do
  [ -f "$WORK/c-$n.csv" ] || $M synth claims --lines "$n" --policies "$WORK/policies" --seed 11 --out "$WORK/c-$n.csv" 2>/dev/null
  [ -f "$WORK/c-$n.x12" ] || $M synth claims --lines "$n" --policies "$WORK/policies" --seed 11 --format x12 --out "$WORK/c-$n.x12" 2>/dev/null
  echo "input: $n lines: CSV $(du -h "$WORK/c-$n.csv" | cut -f1), X12 $(du -h "$WORK/c-$n.x12" | cut -f1)"
  c=$(measure "csv $n, 1 core" "$n" screen "$WORK/c-$n.csv" --policies "$WORK/policies" --out /dev/null --threads 1)
  x=$(measure "x12 $n, 1 core" "$n" screen "$WORK/c-$n.x12" --policies "$WORK/policies" --product-map "$WORK/c-$n.x12.product-map.toml" --out /dev/null --threads 1)
  echo "$c"; echo "$x"
  echo "$c $x" | awk '{printf "ratio x12/csv (throughput): %.0f%%\n", 100*$5/$17}'
done
echo "(times exclude loading the 10,000 policies; peak RSS includes them)"
