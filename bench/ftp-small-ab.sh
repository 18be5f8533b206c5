#!/usr/bin/env bash
# bench/ftp-small-ab.sh BIN_A BIN_B [ROUNDS]: two built sluice binaries,
# alternating A, B, A, B…, each round a fresh server (DIRECT ON, data on
# tmpfs) taking MIRRORS lftp `mirror -R` runs of NFILES × 4 KiB into /dsk,
# one login each. Prints per round the server's CPU and the wall time per
# file, then the medians. For changes too small to show in bench/ftp.sh's
# side-by-side rows on a machine whose neighbours steal CPU: only the
# order of A and B differs between them.
#
# Environment: NFILES [1000], MIRRORS per round [4], WORK [/dev/shm].
set -euo pipefail
. "$(dirname "$0")/lib.sh"
[ $# -ge 2 ] || die "usage: $0 BIN_A BIN_B [ROUNDS]"
A=$(realpath "$1") B=$(realpath "$2") ROUNDS=${3:-6}
NFILES=${NFILES:-1000} MIRRORS=${MIRRORS:-4} WORK=${WORK:-/dev/shm}
T=$(mktemp -d "$WORK/sluice-smallab.XXXXXX")
SP=
cleanup() {
	[ -n "$SP" ] && { kill "$SP" 2>/dev/null || true; wait "$SP" 2>/dev/null || true; }
	rm -rf "$T"
}
trap cleanup EXIT
mkdir "$T/small"
head -c $((NFILES * 4096)) /dev/urandom | split -a 5 -d -b 4096 - "$T/small/s"
SET="set ftp:ssl-allow no; set cmd:fail-exit yes; set net:max-retries 1; set net:timeout 20; set ftp:use-site-utime no; set ftp:use-site-utime2 no; set ftp:use-mdtm-overloaded yes"

# round BIN: prints "cpu_ms_per_file wall_ms_per_file"
round() {
	local bin=$1 sd=$T/sd port pasv pw c0 c1 t0 t1 n
	rm -rf "$sd"
	mkdir "$sd"
	port=$(free_port)
	TAKEN+=("$port-$port")
	pasv=$(free_range 200)
	"$bin" serve --data "$sd" --ssh-addr "" --ftp-addr "127.0.0.1:$port" >"$T/first.out" 2>"$T/first.log" &
	SP=$!
	wait_listen "$port" "$SP" || die "$bin did not start"
	pw=$(cat "$sd/initial-root-password")
	kill "$SP"
	wait "$SP" || true
	toml_set "$sd/sluice.toml" ftp direct true
	toml_set "$sd/sluice.toml" ftp pasv_min_port "$pasv"
	toml_set "$sd/sluice.toml" ftp pasv_max_port $((pasv + 199))
	"$bin" serve --data "$sd" --ssh-addr "" --ftp-addr "127.0.0.1:$port" >"$T/out" 2>"$T/log" &
	SP=$!
	wait_listen "$port" "$SP" || { cat "$T/log" >&2; die "$bin did not start with DIRECT ON"; }
	c0=$(cpu_tree "$SP") t0=$(now)
	for _ in $(seq "$MIRRORS"); do
		lftp -u "root,$pw" -p "$port" -e "$SET; cd dsk; mirror -R --no-perms --no-umask $T/small .; quit" 127.0.0.1 >/dev/null
		n=$(find "$sd/dsk" -name 's*' | wc -l)
		[ "$n" = "$NFILES" ] || die "$bin: mirror left $n files of $NFILES"
		cmp -s "$T/small/s00000" "$sd/dsk/s00000" || die "$bin: s00000 differs"
		rm -f "$sd"/dsk/s*
	done
	c1=$(cpu_tree "$SP") t1=$(now)
	kill "$SP"
	wait "$SP" || true
	SP=
	echo "$(calc %.3f "($c1 - $c0) * 1000 / $(getconf CLK_TCK) / ($MIRRORS * $NFILES)") $(calc %.3f "($t1 - $t0) * 1000 / ($MIRRORS * $NFILES)")"
}

log "A=$A B=$B rounds=$ROUNDS mirrors=$MIRRORS files=$NFILES; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| round | A CPU ms/file | A wall ms/file | B CPU ms/file | B wall ms/file |"
echo "|---:|---:|---:|---:|---:|"
: >"$T/a" && : >"$T/b"
for r in $(seq "$ROUNDS"); do
	ra=$(round "$A") rb=$(round "$B")
	echo "$ra" >>"$T/a"
	echo "$rb" >>"$T/b"
	echo "| $r | ${ra% *} | ${ra#* } | ${rb% *} | ${rb#* } |"
done
med() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "| median | $(cut -d' ' -f1 "$T/a" | med) | $(cut -d' ' -f2 "$T/a" | med) | $(cut -d' ' -f1 "$T/b" | med) | $(cut -d' ' -f2 "$T/b" | med) |"
log "done; load $(cut -d' ' -f1-3 /proc/loadavg); steal ticks are in /proc/stat's 8th column"
