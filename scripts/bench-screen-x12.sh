#!/usr/bin/env bash
# X12 screening benchmark: the same synthetic claims as CSV and as X12 837
# files (one seed), against 10,000 synthetic policies, on one core: lines per
# second for each, the ratio X12 / CSV, and peak memory (GNU time's max RSS)
# at two file sizes (memory should not grow with the file). PAIRS=N sets the
# number of CSV/X12 run pairs (default 5).
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

secs_rss() { # args...: one run's screening time (s) and peak RSS (KiB)
  local err
  err=$( { /usr/bin/time -f 'maxrss %M' $pin "$M" "$@" >/dev/null; } 2>&1 )
  echo "$(echo "$err" | sed -n 's/^screened [0-9]* lines in \([0-9.]*\) s.*/\1/p') $(echo "$err" | sed -n 's/^maxrss //p')"
}

# The machine's speed drifts from minute to minute (±30% seen), so CSV and
# X12 run in pairs, one right after the other, and the ratio is taken per
# pair: the median of the pair ratios is the figure; the medians of each
# side's throughput are printed beside it.
PAIRS=${PAIRS:-5}
for n in "$LINES" $((LINES * 4)); do
  [ -f "$WORK/c-$n.csv" ] || $M synth claims --lines "$n" --policies "$WORK/policies" --seed 11 --out "$WORK/c-$n.csv" 2>/dev/null
  [ -f "$WORK/c-$n.x12" ] || $M synth claims --lines "$n" --policies "$WORK/policies" --seed 11 --format x12 --out "$WORK/c-$n.x12" 2>/dev/null
  echo "input: $n lines: CSV $(du -h "$WORK/c-$n.csv" | cut -f1), X12 $(du -h "$WORK/c-$n.x12" | cut -f1); $PAIRS pairs of runs on one core"
  rows=()
  for _ in $(seq 1 "$PAIRS"); do
    c=$(secs_rss screen "$WORK/c-$n.csv" --policies "$WORK/policies" --out /dev/null --threads 1)
    x=$(secs_rss screen "$WORK/c-$n.x12" --policies "$WORK/policies" --product-map "$WORK/c-$n.x12.product-map.toml" --out /dev/null --threads 1)
    rows+=("$c $x")
  done
  printf '%s\n' "${rows[@]}" | awk -v n="$n" '
    { cs[NR]=$1; cr=$2; xs[NR]=$3; xr=$4; r[NR]=$1/$3 }
    function median(a, k,  i, j, t, b) { for (i=1;i<=k;i++) b[i]=a[i];
      for (i=1;i<=k;i++) for (j=i+1;j<=k;j++) if (b[j]<b[i]) { t=b[i]; b[i]=b[j]; b[j]=t }
      return (k%2) ? b[(k+1)/2] : (b[k/2]+b[k/2+1])/2 }
    END { k=NR;
      printf "csv  %7.0f lines/s (median of %d)   peak RSS %4.0f MiB\n", n/median(cs,k), k, cr/1024;
      printf "x12  %7.0f lines/s (median of %d)   peak RSS %4.0f MiB\n", n/median(xs,k), k, xr/1024;
      printf "ratio x12/csv (throughput), median of the %d pair ratios: %.0f%% (pairs:", k, 100*median(r,k);
      for (i=1;i<=k;i++) printf " %.0f%%", 100*r[i]; print ")" }'
done
echo "(times exclude loading the 10,000 policies; peak RSS includes them)"
