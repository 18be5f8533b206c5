#!/usr/bin/env bash
# bench/sftp.sh — sluice against a private OpenSSH sshd (Subsystem sftp
# internal-sftp), side by side on loopback, driven by the OpenSSH sftp client
# in batch mode. See docs/performance.md for what it measures and the results.
#
# Usage: bench/sftp.sh [-n RUNS]
#
# Environment (defaults in brackets):
#   RUNS      runs per measurement; medians are reported            [5]
#   SIZE_MIB  size of the large put/get                             [512]
#   NFILES    number of 4 KiB files in the small-file test          [1000]
#   NIDLE     idle sessions held open in the memory test            [200]
#   PERF      1: also profile sluice with perf during a put and get [0]
#   KEEP      1: keep the work directory (logs, raw results)        [0]
#   WORK      parent directory of the work directory; must be tmpfs [/dev/shm]
#
# Everything runs in a fresh directory under $WORK. Both servers listen on
# 127.0.0.1 on ports chosen at run time and are stopped by PID at the end.
# Server CPU is read from /proc/PID/stat: sluice's utime+stime; for sshd the
# listener's utime+stime+cutime+cstime after the session's processes have
# been reaped (a child's CPU is added to its parent's cutime/cstime when it
# is waited for, all the way up to the listener).
set -euo pipefail

RUNS=${RUNS:-5}
while getopts n: opt; do
	case $opt in
	n) RUNS=$OPTARG ;;
	*) echo "usage: $0 [-n RUNS]" >&2; exit 2 ;;
	esac
done
SIZE_MIB=${SIZE_MIB:-512}
NFILES=${NFILES:-1000}
NIDLE=${NIDLE:-200}
PERF=${PERF:-0}
KEEP=${KEEP:-0}
WORK=${WORK:-/dev/shm}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SIZE=$((SIZE_MIB * 1024 * 1024))
HZ=$(getconf CLK_TCK)
T=$(mktemp -d "$WORK/sluice-bench.XXXXXX")
RAW=$T/raw.tsv # label server seconds cpu-seconds
: >"$RAW"

SLUICE_PID= SSHD_PID= IDLE_FIFO_OPEN=0
declare -a IDLE_PIDS=()

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

cleanup() {
	local p
	if [ "$IDLE_FIFO_OPEN" = 1 ]; then exec 9>&-; fi
	for p in "${IDLE_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	stop_sluice
	stop_sshd
	if [ "$KEEP" = 1 ]; then log "work directory kept: $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_port prints a TCP port on 127.0.0.1 that nothing listens on, below
# the ephemeral range so that no outgoing connection takes it meanwhile.
free_port() {
	local p
	for _ in $(seq 100); do
		p=$((20000 + RANDOM % 12000))
		if [ -z "$(ss -Htln "sport = :$p")" ]; then echo "$p"; return; fi
	done
	die "no free port"
}

wait_listen() { # port pid
	for _ in $(seq 200); do
		[ -n "$(ss -Htln "sport = :$1")" ] && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# ---------------------------------------------------------------- setup

log "work directory $T; runs=$RUNS size=${SIZE_MIB}MiB files=$NFILES idle=$NIDLE"
(cd "$ROOT" && go build -o "$T/sluice" ./cmd/sluice) || die "build failed"
ssh-keygen -q -t ed25519 -N '' -C bench -f "$T/id_ed25519"

# sluice: data directory on tmpfs; the benchmark's key for root; limits
# raised for the idle-session test; a staging buffer that holds the file.
SD=$T/sluice-data
mkdir -p "$SD/dsk" "$SD/bio"
cat >"$SD/sluice.toml" <<EOF
data_dir = "."

[limits]
max_sessions = $((NIDLE + 100))
max_sessions_per_ip = $((NIDLE + 100))

[mem]
max_bytes = 1073741824
EOF
"$T/sluice" user add root --data "$SD" --level supervisor --authorized-key "$T/id_ed25519.pub" >/dev/null
"$T/sluice" config --data "$SD" >/dev/null || die "sluice.toml does not parse"

start_sluice() {
	SLUICE_PORT=$(free_port)
	"$T/sluice" serve --data "$SD" --ssh-addr "127.0.0.1:$SLUICE_PORT" >>"$T/sluice.log" 2>&1 &
	SLUICE_PID=$!
	wait_listen "$SLUICE_PORT" "$SLUICE_PID" || { cat "$T/sluice.log" >&2; die "sluice did not start"; }
}
stop_sluice() {
	[ -n "$SLUICE_PID" ] || return 0
	kill "$SLUICE_PID" 2>/dev/null || true
	wait "$SLUICE_PID" 2>/dev/null || true
	SLUICE_PID=
}

# sshd: private instance, internal-sftp, files in a tmpfs directory.
SSHD_DIR=$T/sshd-files
mkdir -p "$SSHD_DIR" /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$T/sshd_hostkey"
cp "$T/id_ed25519.pub" "$T/authorized_keys"
start_sshd() {
	SSHD_PORT=$(free_port)
	cat >"$T/sshd_config" <<EOF
Port $SSHD_PORT
ListenAddress 127.0.0.1
HostKey $T/sshd_hostkey
PidFile $T/sshd.pid
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AuthorizedKeysFile $T/authorized_keys
Subsystem sftp internal-sftp
LogLevel ERROR
MaxStartups $((NIDLE + 100))
MaxSessions 10
EOF
	/usr/sbin/sshd -D -f "$T/sshd_config" -E "$T/sshd.log" &
	SSHD_PID=$!
	wait_listen "$SSHD_PORT" "$SSHD_PID" || { cat "$T/sshd.log" >&2; die "sshd did not start"; }
}
stop_sshd() {
	[ -n "$SSHD_PID" ] || return 0
	kill "$SSHD_PID" 2>/dev/null || true
	wait "$SSHD_PID" 2>/dev/null || true
	SSHD_PID=
}

start_sluice
start_sshd
log "sluice pid $SLUICE_PID port $SLUICE_PORT; sshd pid $SSHD_PID port $SSHD_PORT"

# The client: OpenSSH sftp with no user configuration (-F /dev/null), so
# that "default" means the client's built-in defaults.
sftp_to() { # server batchfile [extra sftp options…]
	local port
	case $1 in sluice) port=$SLUICE_PORT ;; sshd) port=$SSHD_PORT ;; esac
	local batch=$2
	shift 2
	sftp -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
		-o BatchMode=yes -o LogLevel=ERROR -i "$T/id_ed25519" -P "$port" "$@" \
		-b "$batch" root@127.0.0.1
}

# cpu prints a server's CPU seconds so far (see the header).
cpu() {
	case $1 in
	sluice) awk -v hz="$HZ" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$SLUICE_PID/stat" ;;
	sshd)
		local i
		for i in $(seq 500); do # sessions not yet reaped are not counted yet
			pgrep -P "$SSHD_PID" >/dev/null || break
			sleep 0.01
		done
		pgrep -P "$SSHD_PID" >/dev/null && die "sshd sessions still running"
		awk -v hz="$HZ" '{ printf "%.2f", ($14 + $15 + $16 + $17) / hz }' "/proc/$SSHD_PID/stat"
		;;
	esac
}

now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }

# measure LABEL SERVER BATCH [sftp options…]: one timed session, recorded
# in $RAW as wall seconds and server CPU seconds.
measure() {
	local label=$1 srv=$2 batch=$3
	shift 3
	local c0 c1 t0 t1
	c0=$(cpu "$srv")
	t0=$(now)
	sftp_to "$srv" "$batch" "$@" >"$T/last.out" 2>&1 || { cat "$T/last.out" >&2; die "$label $srv failed"; }
	t1=$(now)
	c1=$(cpu "$srv")
	printf '%s\t%s\t%s\t%s\n' "$label" "$srv" "$(calc %.4f "$t1 - $t0")" "$(calc %.2f "$c1 - $c0")" >>"$RAW"
}

batch() { # name lines…
	local f=$T/batch.$1
	shift
	printf '%s\n' "$@" >"$f"
	echo "$f"
}

# ---------------------------------------------------------------- data

log "creating ${SIZE_MIB} MiB source file and $NFILES × 4 KiB files"
head -c "$SIZE" /dev/urandom >"$T/src.bin"
mkdir "$T/small"
head -c $((NFILES * 4096)) /dev/urandom | split -a 5 -d -b 4096 - "$T/small/s"
SMALL=()
for f in "$T"/small/s*; do SMALL+=("$(basename "$f")"); done

B_PUT_DSK=$(batch put_dsk "put $T/src.bin /dsk/big.bin")
B_GET_DSK=$(batch get_dsk "get /dsk/big.bin /dev/null")
B_PUT_MEM=$(batch put_mem "put $T/src.bin /mem/big.bin")
B_GET_MEM=$(batch get_mem "get /mem/big.bin /dev/null")
B_RM_MEM=$(batch rm_mem "rm /mem/big.bin")
B_GET_TST=$(batch get_tst "get /tst/$SIZE /dev/null")
B_PUT_SSHD=$(batch put_sshd "put $T/src.bin $SSHD_DIR/big.bin")
B_GET_SSHD=$(batch get_sshd "get $SSHD_DIR/big.bin /dev/null")
B_SMALL_SLUICE=$T/batch.small_sluice
B_SMALL_SSHD=$T/batch.small_sshd
for f in "${SMALL[@]}"; do echo "put $T/small/$f /dsk/$f"; done >"$B_SMALL_SLUICE"
for f in "${SMALL[@]}"; do echo "put $T/small/$f $SSHD_DIR/$f"; done >"$B_SMALL_SSHD"
B_RM_SMALL=$(batch rm_small "rm /dsk/s*")
B_PWD=$(batch pwd "pwd")

# Which cipher each combination negotiates (reported with the table).
negotiated() { # server [options…]
	sftp_to "$1" "$B_PWD" "${@:2}" -v 2>&1 | sed -n 's/.*kex: server->client cipher: \([^ ]*\).*/\1/p' | head -1
}
CIPHER_DEF_SLUICE=$(negotiated sluice)
CIPHER_DEF_SSHD=$(negotiated sshd)
CIPHER_AES_SLUICE=$(negotiated sluice -c aes128-gcm@openssh.com)
CIPHER_AES_SSHD=$(negotiated sshd -c aes128-gcm@openssh.com)
log "default client: sluice $CIPHER_DEF_SLUICE, sshd $CIPHER_DEF_SSHD; -c: sluice $CIPHER_AES_SLUICE, sshd $CIPHER_AES_SSHD"

# ---------------------------------------------------------------- large files

AES=(-c aes128-gcm@openssh.com)
for run in $(seq "$RUNS"); do
	log "run $run/$RUNS: ${SIZE_MIB} MiB put/get"
	for mode in def aes; do
		opts=()
		[ "$mode" = aes ] && opts=("${AES[@]}")
		measure "put_dsk_$mode" sluice "$B_PUT_DSK" "${opts[@]}"
		measure "put_$mode" sshd "$B_PUT_SSHD" "${opts[@]}"
		measure "get_dsk_$mode" sluice "$B_GET_DSK" "${opts[@]}"
		measure "get_$mode" sshd "$B_GET_SSHD" "${opts[@]}"
		measure "put_mem_$mode" sluice "$B_PUT_MEM" "${opts[@]}"
		measure "get_mem_$mode" sluice "$B_GET_MEM" "${opts[@]}"
		sftp_to sluice "$B_RM_MEM" >/dev/null
		measure "get_tst_$mode" sluice "$B_GET_TST" "${opts[@]}"
	done
	log "run $run/$RUNS: $NFILES × 4 KiB put"
	measure small sluice "$B_SMALL_SLUICE"
	measure small sshd "$B_SMALL_SSHD"
	sftp_to sluice "$B_RM_SMALL" >/dev/null
	rm -f "$SSHD_DIR"/s*
done
rm -f "$SSHD_DIR/big.bin"
sftp_to sluice "$(batch rm_dsk "rm /dsk/big.bin")" >/dev/null

# ---------------------------------------------------------------- profile

if [ "$PERF" = 1 ]; then
	if ! command -v perf >/dev/null; then
		log "perf not found; no profile"
	else
		for what in put_dsk get_dsk put_mem get_mem; do
			b=B_${what^^}
			perf record -q -F 999 -e cpu-clock -g -p "$SLUICE_PID" -o "$T/perf.$what.data" 2>/dev/null &
			pp=$!
			sleep 0.5
			sftp_to sluice "${!b}" >/dev/null
			kill -INT "$pp"
			wait "$pp" || true
			perf report -i "$T/perf.$what.data" --stdio --no-children --sort symbol \
				--percent-limit 0.7 -g none 2>/dev/null | grep -v '^#' | grep -v '^$' >"$T/perf.$what.self.txt" || true
			perf report -i "$T/perf.$what.data" --stdio --children --sort symbol \
				--percent-limit 4 -g none 2>/dev/null | grep -v '^#' | grep -v '^$' >"$T/perf.$what.children.txt" || true
		done
		sftp_to sluice "$B_RM_MEM" >/dev/null
		sftp_to sluice "$(batch rm_dsk "rm /dsk/big.bin")" >/dev/null
	fi
fi

# ---------------------------------------------------------------- idle sessions

# Memory of a process tree: sum of PSS and of RSS (kB) over PID and all its
# descendants.
tree_pids() {
	local p
	echo "$1"
	for p in $(pgrep -P "$1"); do tree_pids "$p"; done
}
mem_kb() { # pid → "pss rss nprocs"
	local p pss=0 rss=0 n=0 a b
	for p in $(tree_pids "$1"); do
		a=$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null) || continue
		b=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null) || continue
		[ -n "$a" ] && [ -n "$b" ] || continue
		pss=$((pss + a)) rss=$((rss + b)) n=$((n + 1))
	done
	echo "$pss $rss $n"
}

# Each idle client runs "pwd" (so the session is up and the SFTP INIT
# done), then blocks in a local command reading a FIFO that this script
# holds open; closing it ends every client at once.
idle_test() { # server run
	local srv=$1 run=$2 pid i ready before after
	case $srv in sluice) pid=$SLUICE_PID ;; sshd) pid=$SSHD_PID ;; esac
	rm -f "$T/idle.fifo"
	mkfifo "$T/idle.fifo"
	exec 9<>"$T/idle.fifo"
	IDLE_FIFO_OPEN=1
	local b
	b=$(batch idle "pwd" "!cat $T/idle.fifo")
	sleep 1
	before=$(mem_kb "$pid")
	rm -rf "$T/idle"
	mkdir "$T/idle"
	IDLE_PIDS=()
	for i in $(seq "$NIDLE"); do
		sftp_to "$srv" "$b" >"$T/idle/$i.out" 2>&1 &
		IDLE_PIDS+=($!)
		sleep 0.02
	done
	for i in $(seq 600); do
		ready=$(grep -l 'Remote working directory' "$T"/idle/*.out 2>/dev/null | wc -l)
		[ "$ready" -ge "$NIDLE" ] && break
		sleep 0.1
	done
	[ "$ready" -ge "$NIDLE" ] || die "only $ready of $NIDLE idle sessions came up on $srv"
	sleep 2
	after=$(mem_kb "$pid")
	exec 9>&-
	IDLE_FIFO_OPEN=0
	for i in "${IDLE_PIDS[@]}"; do wait "$i" || true; done
	IDLE_PIDS=()
	# label server before-pss before-rss before-procs after-pss after-rss after-procs
	printf 'idle\t%s\t%s\t%s\n' "$srv" "${before// /	}" "${after// /	}" >>"$T/idle.tsv"
}

: >"$T/idle.tsv"
for run in $(seq "$RUNS"); do
	log "run $run/$RUNS: $NIDLE idle sessions (servers restarted)"
	stop_sluice
	stop_sshd
	start_sluice
	start_sshd
	idle_test sluice "$run"
	idle_test sshd "$run"
done

# ---------------------------------------------------------------- report

# med LABEL SERVER COLUMN (3 = seconds, 4 = CPU seconds)
med() {
	awk -F'\t' -v l="$1" -v s="$2" -v c="$3" '$1 == l && $2 == s { print $c }' "$RAW" | sort -g |
		awk '{ v[NR] = $1 } END { if (NR == 0) { print "nan"; exit } if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
medcol() { # file column label-match server
	awk -F'\t' -v s="$3" -v c="$2" '$2 == s { print $c }' "$1" | sort -g |
		awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

MB=$(calc %.6f "$SIZE / 1e6")
GIB=$(calc %.6f "$SIZE / 1073741824")
row() { # title sluice-label sshd-label
	local st sc dt dc
	st=$(med "$2" sluice 3) sc=$(med "$2" sluice 4)
	dt=$(med "$3" sshd 3) dc=$(med "$3" sshd 4)
	printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$1" \
		"$(calc %.0f "$MB / $st")" "$(calc %.0f "$MB / $dt")" "$(calc %.2f "$dt / $st")" \
		"$(calc %.2f "$sc / $GIB")" "$(calc %.2f "$dc / $GIB")" "$(calc %.2f "$sc / $dc")"
}

{
	echo
	echo "### Large files: ${SIZE_MIB} MiB, medians of $RUNS runs"
	echo
	echo "Default client: sluice negotiates \`$CIPHER_DEF_SLUICE\`, sshd \`$CIPHER_DEF_SSHD\`." \
		"With \`-c aes128-gcm@openssh.com\`: sluice \`$CIPHER_AES_SLUICE\`, sshd \`$CIPHER_AES_SSHD\`." \
		"sshd has no /mem: its rows compare with the same sshd tmpfs transfer; \`get /tst\` compares with sshd's get of a tmpfs file."
	echo
	echo "| transfer | sluice MB/s | sshd MB/s | throughput sluice/sshd | sluice CPU s/GiB | sshd CPU s/GiB | CPU sluice/sshd |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
	row "put /dsk, default client" put_dsk_def put_def
	row "get /dsk, default client" get_dsk_def get_def
	row "put /mem, default client" put_mem_def put_def
	row "get /mem, default client" get_mem_def get_def
	row "get /tst, default client" get_tst_def get_def
	row "put /dsk, aes128-gcm" put_dsk_aes put_aes
	row "get /dsk, aes128-gcm" get_dsk_aes get_aes
	row "put /mem, aes128-gcm" put_mem_aes put_aes
	row "get /mem, aes128-gcm" get_mem_aes get_aes
	row "get /tst, aes128-gcm" get_tst_aes get_aes
	echo
	echo "### Small files: $NFILES × 4 KiB \`put\` lines in one batch (default client), medians of $RUNS runs"
	echo
	echo "| | sluice | sshd | sluice/sshd |"
	echo "|---|---:|---:|---:|"
	st=$(med small sluice 3) dt=$(med small sshd 3) sc=$(med small sluice 4) dc=$(med small sshd 4)
	printf '| ms per file (wall) | %s | %s | %s |\n' "$(calc %.3f "$st * 1000 / $NFILES")" "$(calc %.3f "$dt * 1000 / $NFILES")" "$(calc %.2f "$st / $dt")"
	printf '| server CPU ms per file | %s | %s | %s |\n' "$(calc %.3f "$sc * 1000 / $NFILES")" "$(calc %.3f "$dc * 1000 / $NFILES")" "$(calc %.2f "$sc / $dc")"
	echo
	echo "### Idle sessions: $NIDLE \`sftp\` sessions held open, servers restarted before each run, medians of $RUNS runs"
	echo
	echo "| | sluice | sshd | sluice/sshd |"
	echo "|---|---:|---:|---:|"
	# idle.tsv: idle srv pss0 rss0 n0 pss1 rss1 n1 → per-session deltas
	awk -F'\t' '{ printf "%s\t%s\t%.1f\t%.1f\t%d\n", $1, $2, ($6 - $3) / N, ($7 - $4) / N, $8 - $5 }' N="$NIDLE" "$T/idle.tsv" >"$T/idle.per.tsv"
	sp=$(medcol "$T/idle.per.tsv" 3 sluice) dp=$(medcol "$T/idle.per.tsv" 3 sshd)
	sr=$(medcol "$T/idle.per.tsv" 4 sluice) dr=$(medcol "$T/idle.per.tsv" 4 sshd)
	sn=$(medcol "$T/idle.per.tsv" 5 sluice) dn=$(medcol "$T/idle.per.tsv" 5 sshd)
	printf '| PSS per session (KiB) | %s | %s | %s (1/%s) |\n' "$sp" "$dp" "$(calc %.3f "$sp / $dp")" "$(calc %.0f "$dp / $sp")"
	printf '| RSS per session (KiB; sshd: sum over processes) | %s | %s | %s |\n' "$sr" "$dr" "$(calc %.3f "$sr / $dr")"
	printf '| processes per session | %s | %s | |\n' "$(calc %.0f "$sn / $NIDLE")" "$(calc %.0f "$dn / $NIDLE")"
	echo
} | tee "$T/table.md"

if [ "$PERF" = 1 ] && ls "$T"/perf.*.self.txt >/dev/null 2>&1; then
	for f in "$T"/perf.*.self.txt; do
		w=$(basename "$f" .self.txt)
		echo "#### ${w#perf.}: sluice self time (perf, cpu-clock)"
		echo '```'
		head -25 "$f"
		echo '```'
		echo "#### ${w#perf.}: sluice inclusive time (perf --children, ≥ 4%)"
		echo '```'
		head -40 "$T/$w.children.txt"
		echo '```'
	done | tee "$T/perf.md"
fi
log "raw results: $RAW, $T/idle.tsv (kept only with KEEP=1)"
