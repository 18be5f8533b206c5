#!/usr/bin/env bash
# Verified commit vs. plain copy (issue 3's benchmark).
#
# Times the commit of a staged image from /mem to /dsk with every check on
# (vfs.BenchmarkVerifiedCommit: checks, one-pass copy with CRC-32 and
# SHA-256, fsync, rename over the previous image, device-state update)
# against `cp` of the same bytes over an existing file plus `sync`, on the
# same file system, and prints the medians and their ratio.
#
#   bench/commit.sh [RUNS] [MB] [DIR]     defaults: 5 runs, 256 MiB, /var/tmp
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
mb=${2:-256}
dir=${3:-/var/tmp}
work=$(mktemp -d "$dir/sluice-commit-XXXXXX")
trap 'rm -rf "$work"' EXIT

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

go test -c -o "$work/vfs.test" ./vfs/ >/dev/null
src=/dev/shm/sluice-commit-src.$$
head -c $((mb << 20)) /dev/urandom >"$src"
trap 'rm -rf "$work" "$src"' EXIT

commit=()
copy=()
for ((i = 0; i < runs; i++)); do
  sync
  ns=$(SLUICE_BENCH_MB=$mb SLUICE_BENCH_DIR=$work "$work/vfs.test" -test.run '^$' \
    -test.bench '^BenchmarkVerifiedCommit$' -test.benchtime 3x | awk '/^BenchmarkVerifiedCommit/ {print $3}')
  commit+=("$(awk -v ns="$ns" 'BEGIN {printf "%.4f", ns / 1e9}')")
  # Like the commit, cp replaces an existing file of the same size.
  cp "$src" "$work/copy.bin"
  sync
  start=$(date +%s.%N)
  cp "$src" "$work/copy.bin" && sync
  end=$(date +%s.%N)
  copy+=("$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.4f", b - a}')")
  rm -f "$work/copy.bin"
done
c=$(printf '%s\n' "${commit[@]}" | median)
p=$(printf '%s\n' "${copy[@]}" | median)
fs=$(df -T "$work" | awk 'NR==2 {print $2}')
echo "# ${mb} MiB, ${runs} runs, target file system $fs ($dir)"
echo "verified commit (all checks): runs ${commit[*]} s; median $c s"
echo "cp + sync:                    runs ${copy[*]} s; median $p s"
awk -v c="$c" -v p="$p" 'BEGIN {printf "ratio commit / (cp+sync): %.2f (target <= 1.25)\n", c / p}'
