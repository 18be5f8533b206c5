#!/usr/bin/env bash
# bench/sftp-pool.sh — pools the raw results of several bench/sftp.sh runs
# (raw.tsv, kept with KEEP=1) and prints the large-file table again, using
# only the samples during which other processes on the machine used less
# than QUIET seconds of CPU (default 0.2). On a shared machine the wall-clock
# throughput of a sample taken while other work ran is meaningless; the
# server CPU per GiB is much less affected.
#
# Usage: bench/sftp-pool.sh SIZE_MIB raw.tsv [raw.tsv …]
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 SIZE_MIB raw.tsv [raw.tsv …]" >&2; exit 2; }
SIZE_MIB=$1
shift
QUIET=${QUIET:-0.2}
ALL=$(mktemp)
trap 'rm -f "$ALL"' EXIT
cat "$@" >"$ALL"

# med LABEL SERVER COLUMN: median over quiet samples (3 = wall s, 4 = CPU s)
med() {
	awk -F'\t' -v l="$1" -v s="$2" -v c="$3" -v q="$QUIET" '$1 == l && $2 == s && $6 < q { print $c }' "$ALL" | sort -g |
		awk '{ v[NR] = $1 } END { if (NR == 0) { print "nan"; exit } if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
count() { awk -F'\t' -v l="$1" -v s="$2" -v q="$QUIET" '$1 == l && $2 == s && $6 < q { n++ } END { print n + 0 }' "$ALL"; }
total() { awk -F'\t' -v l="$1" -v s="$2" '$1 == l && $2 == s { n++ } END { print n + 0 }' "$ALL"; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }

MB=$(calc %.6f "$SIZE_MIB * 1048576 / 1e6")
GIB=$(calc %.6f "$SIZE_MIB / 1024")
row() { # title sluice-label sshd-label
	local st sc dt dc
	st=$(med "$2" sluice 3) sc=$(med "$2" sluice 4)
	dt=$(med "$3" sshd 3) dc=$(med "$3" sshd 4)
	printf '| %s | %s | %s | %s | %s | %s | %s | %s / %s |\n' "$1" \
		"$(calc %.0f "$MB / $st")" "$(calc %.0f "$MB / $dt")" "$(calc %.2f "$dt / $st")" \
		"$(calc %.2f "$sc / $GIB")" "$(calc %.2f "$dc / $GIB")" "$(calc %.2f "$sc / $dc")" \
		"$(count "$2" sluice)/$(total "$2" sluice)" "$(count "$3" sshd)/$(total "$3" sshd)"
}
echo "| transfer | sluice MB/s | sshd MB/s | throughput sluice/sshd | sluice CPU s/GiB | sshd CPU s/GiB | CPU sluice/sshd | quiet samples sluice / sshd |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
row "put /dsk, default client" put_dsk_def put_def
row "get /dsk, default client" get_dsk_def get_def
row "put /mem, default client" put_mem_def put_def
row "get /mem, default client" get_mem_def get_def
row "put /tst (discarded), default client" put_tst_def put_def
row "get /tst (generated), default client" get_tst_def get_def
row "put /dsk, aes128-gcm" put_dsk_aes put_aes
row "get /dsk, aes128-gcm" get_dsk_aes get_aes
row "put /mem, aes128-gcm" put_mem_aes put_aes
row "get /mem, aes128-gcm" get_mem_aes get_aes
row "put /tst (discarded), aes128-gcm" put_tst_aes put_aes
row "get /tst (generated), aes128-gcm" get_tst_aes get_aes
