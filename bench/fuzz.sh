#!/usr/bin/env bash
# Runs every fuzz target of the module for a fixed number of executions
# (issue 8: "every target runs at least 10^6 executions without a crash").
# Not run by CI: `go test` runs only the seed corpora.
#
#   bench/fuzz.sh [REGEXP]     only targets whose "pkg FuzzName" matches
#
# Environment:
#   FUZZ_EXECS     executions per target (default 1000000)
#   FUZZ_PARALLEL  fuzzing workers per target (default 1; the machine is shared)
#   FUZZ_TIMEOUT   bound per target, as for timeout(1) (default 3h)
#   FUZZ_LOGS      directory for one log per target (default a new temporary one)
#   FUZZ_MINIMIZETIME  go test -fuzzminimizetime (default go's 60s); each new
#                  interesting input of a slow target (FuzzSession, FuzzGuard)
#                  is minimized that long, stalling the count
#
# Targets run one at a time, each as
#   go test -run '^$' -fuzz '^Name$' -fuzztime Nx -parallel P -timeout 0 ./pkg
# (go test's default -timeout 10m applies to fuzzing too) under timeout(1),
# which interrupts the whole process group (go, the test binary and its
# workers) when the bound passes. The table at the end has
# one row per target: package, target, executions done (the last status
# line's count; "-" before the first), result, seconds.
# Results: ok; CRASH (go wrote the input to pkg/testdata/fuzz/Name/, which
# `go test` then runs as a seed: commit it with the fix); TIMEOUT (the
# bound passed first); FAIL (did not build, or a seed failed).
#
# Exit status: 0 all ok, 1 a target crashed, 2 otherwise not all ok.
set -uo pipefail
cd "$(dirname "$0")/.."

execs=${FUZZ_EXECS:-1000000}
parallel=${FUZZ_PARALLEL:-1}
limit=${FUZZ_TIMEOUT:-3h}
logs=${FUZZ_LOGS:-$(mktemp -d "${TMPDIR:-/tmp}/sluice-fuzz-XXXXXX")}
filter=${1:-}
minimize=()
if [[ -n ${FUZZ_MINIMIZETIME:-} ]]; then
  minimize=(-fuzzminimizetime "$FUZZ_MINIMIZETIME")
fi
mkdir -p "$logs"

# "pkg Name" for every func FuzzXxx(f *testing.F) in a test file.
mapfile -t targets < <(grep -rE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(' . |
  sed -E 's|^\./(.*)/[^/]*:func (Fuzz[A-Za-z0-9_]*)\(.*|\1 \2|' | sort -u |
  { if [[ -n $filter ]]; then grep -E -- "$filter"; else cat; fi })
if ((${#targets[@]} == 0)); then
  echo "fuzz.sh: no fuzz target matches ${filter:-anything}" >&2
  exit 2
fi
echo "fuzz.sh: ${#targets[@]} targets, $execs executions each, $parallel worker(s), at most $limit each; logs in $logs"

rows=()
crashed=0
short=0
for t in "${targets[@]}"; do
  pkg=${t% *}
  name=${t#* }
  log="$logs/${pkg//\//_}.$name.log"
  start=$(date +%s)
  timeout -s INT -k 60s "$limit" \
    go test -run '^$' -fuzz "^$name\$" -fuzztime "${execs}x" -parallel "$parallel" "${minimize[@]}" -timeout 0 "./$pkg" >"$log" 2>&1
  rc=$?
  secs=$(($(date +%s) - start))
  n=$(grep -oE 'execs: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+')
  n=${n:--} # a crash in the first seconds comes before any status line
  if grep -q 'Failing input written to' "$log"; then
    result=CRASH
    crashed=1
    grep -E 'Failing input written to|go test -run=' "$log" | sed "s|^|  $pkg $name: |"
  elif ((rc == 124 || rc == 137)); then
    result=TIMEOUT
    short=1
  elif ((rc != 0)); then
    result=FAIL
    short=1
    tail -5 "$log" | sed "s|^|  $pkg $name: |"
  else
    result=ok
  fi
  rows+=("$pkg $name $n $result $secs")
  printf '%-14s %-26s %10s %-8s %6ss\n' "$pkg" "$name" "$n" "$result" "$secs"
done

echo
printf '%-14s %-26s %10s %-8s %7s\n' package target execs result seconds
for r in "${rows[@]}"; do
  read -r pkg name n result secs <<<"$r"
  printf '%-14s %-26s %10s %-8s %7s\n' "$pkg" "$name" "$n" "$result" "$secs"
done
if ((crashed)); then
  exit 1
fi
if ((short)); then
  exit 2
fi
exit 0
