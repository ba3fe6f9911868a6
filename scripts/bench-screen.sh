#!/usr/bin/env bash
# Screening benchmark: N synthetic claim lines (default 10,000,000) against
# 10,000 synthetic policies. Prints, for one core and for every core, the
# throughput of `medpol screen` and of `--parse-only` (the same reader, no
# decisions, no output), their ratio, and peak memory (GNU time's max RSS).
#
# Usage: scripts/bench-screen.sh [LINES] [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
LINES=${1:-10000000}
WORK=${2:-$(mktemp -d)}
cargo build --release --quiet
M=target/release/medpol
[ -d "$WORK/policies" ] || $M synth policies --count 10000 --out "$WORK/policies" >/dev/null
[ -f "$WORK/claims-$LINES.csv" ] || $M synth claims --lines "$LINES" --policies "$WORK/policies" --out "$WORK/claims-$LINES.csv" 2>/dev/null
echo "input: $LINES lines, $(du -h "$WORK/claims-$LINES.csv" | cut -f1); cores: $(nproc)"

measure() { # label, args...: the median of three runs of the screening time
  # medpol reports (policy loading excluded), and the peak RSS (GNU time).
  local label=$1; shift
  local runs=()
  for _ in 1 2 3; do
    local err secs rss
    err=$( { /usr/bin/time -f 'maxrss %M' $pin "$M" "$@" >/dev/null; } 2>&1 )
    secs=$(echo "$err" | sed -n 's/^screened [0-9]* lines in \([0-9.]*\) s.*/\1/p')
    rss=$(echo "$err" | sed -n 's/^maxrss //p')
    runs+=("$secs $rss")
  done
  printf '%s\n' "${runs[@]}" | sort -n | sed -n 2p | awk -v l="$label" -v n="$LINES" '{printf "%-20s %7.2f s %10.0f lines/s  peak RSS %5.0f MiB\n", l, $1, n/$1, $2/1024}'
}

for threads in 1 "$(nproc)"; do
  # One thread: pin the whole process (reader thread included) to one core.
  pin=""; [ "$threads" = 1 ] && pin="taskset -c 0"
  p=$(measure "parse-only ${threads}t" screen "$WORK/claims-$LINES.csv" --policies "$WORK/policies" --parse-only --threads "$threads")
  s=$(measure "screen ${threads}t" screen "$WORK/claims-$LINES.csv" --policies "$WORK/policies" --out /dev/null --threads "$threads")
  echo "$p"; echo "$s"
  echo "$p $s" | awk -v t="$threads" '{printf "ratio screen/parse-only, %s thread(s): %.0f%%\n", t, 100*$15/$5}'
done
echo "(times exclude loading the 10,000 policies, about 1 s per run; peak RSS includes them)"
