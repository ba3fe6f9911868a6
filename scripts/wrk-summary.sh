# Shared by the HTTP benchmarks (sourced): one line per wrk run, and the
# ratio of two runs' throughputs.

summarize() { # label, wrk output
  echo "$2" | awk -v l="$1" '
    /Requests\/sec/ {rps=$2}
    /^ +50%/ {p50=$2} /^ +99%/ {p99=$2}
    /Non-2xx/ {bad=$NF}
    END {printf "%-28s %10s req/s   p50 %8s   p99 %8s   non-2xx %s\n", l, rps, p50, p99, (bad==""?0:bad)}'
}

ratio() { # label, wrk output of the trivial run, wrk output of the other
  echo "$2" "$3" | awk -v l="$1" '/Requests\/sec/ {r[n++]=$2} END {printf "ratio %s/trivial: %.0f%%\n", l, 100*r[1]/r[0]}'
}
