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
#   PERF      1: also profile with perf (after the timed runs; large
#             transfers and the small-file batch)                   [0]
#   KEEP      1: keep the work directory (logs, raw results)        [0]
#   WORK      parent directory of the work directory; must be tmpfs [/dev/shm]
#
# Everything runs in a fresh directory under $WORK. Both servers listen on
# 127.0.0.1 on ports chosen at run time and are stopped by PID at the end.
# Server CPU is read from /proc/PID/stat: sluice's utime+stime; for sshd the
# listener's utime+stime+cutime+cstime after the session's processes have
# been reaped (a child's CPU is added to its parent's cutime/cstime when it
# is waited for, all the way up to the listener).
#
# It prints markdown tables: medians, throughput in MB/s, server CPU seconds
# per GiB and the ratios sluice/sshd. bench/sftp-pool.sh pools the raw
# results of several runs (KEEP=1) and keeps only the quiet samples.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

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
RAW=$T/raw.tsv # see measure
: >"$RAW"

SLUICE_PID= SSHD_PID= IDLE_FIFO_OPEN=0
declare -a IDLE_PIDS=() SFTP_CMD=()


cleanup() {
	if [ ${#IDLE_PIDS[@]} -gt 0 ]; then kill "${IDLE_PIDS[@]}" 2>/dev/null || true; fi
	if [ "$IDLE_FIFO_OPEN" = 1 ]; then exec 9>&-; fi
	# An idle client's local `cat` may still block in open() of the FIFO:
	# give it a writer for a moment; closing that writer ends it.
	if [ -p "$T/idle.fifo" ]; then
		exec 8<>"$T/idle.fifo"
		sleep 0.3
		exec 8>&-
	fi
	if declare -F stop_sluice >/dev/null; then stop_sluice; fi
	if declare -F stop_sshd >/dev/null; then stop_sshd; fi
	if [ "$KEEP" = 1 ]; then log "work directory kept: $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- setup

log "work directory $T; runs=$RUNS size=${SIZE_MIB}MiB files=$NFILES idle=$NIDLE"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
(cd "$ROOT" && go build -o "$T/sluice" ./cmd/sluice) || die "build failed"
REV=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(cd "$ROOT" && git status --porcelain 2>/dev/null | grep -cv '^??' || true)
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
sftp_cmd() { # server batchfile [extra sftp options…] → SFTP_CMD
	local port
	case $1 in sluice) port=$SLUICE_PORT ;; sshd) port=$SSHD_PORT ;; esac
	local batch=$2
	shift 2
	SFTP_CMD=(sftp -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
		-o BatchMode=yes -o LogLevel=ERROR -i "$T/id_ed25519" -P "$port" "$@"
		-b "$batch" root@127.0.0.1)
}
sftp_to() { # server batchfile [extra sftp options…]
	sftp_cmd "$@"
	"${SFTP_CMD[@]}"
}
# scp_to SERVER SRC DST: OpenSSH scp (SFTP mode, its default): OPEN
# without TRUNC, WRITEs, FSETSTAT{size}, CLOSE (DESIGN §5).
scp_to() {
	local port
	case $1 in sluice) port=$SLUICE_PORT ;; sshd) port=$SSHD_PORT ;; esac
	scp -q -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
		-o BatchMode=yes -o LogLevel=ERROR -i "$T/id_ed25519" -P "$port" "$2" "root@127.0.0.1:$3"
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


# measure LABEL SERVER BATCH [sftp options…]: one timed session, recorded
# in $RAW as wall seconds and server CPU seconds.
measure() {
	local label=$1 srv=$2 batch=$3
	shift 3
	measure_run "$label" "$srv" sftp_to "$srv" "$batch" "$@"
}

# measure_run LABEL SERVER COMMAND…: measure for any client command.
measure_run() {
	local label=$1 srv=$2
	shift 2
	local c0 c1 t0 t1 b0 b1 k0 k1
	c0=$(cpu "$srv")
	b0=$(busy) k0=$(client_cpu)
	t0=$(now)
	"$@" >"$T/last.out" 2>&1 || { cat "$T/last.out" >&2; die "$label $srv failed"; }
	t1=$(now)
	c1=$(cpu "$srv")
	b1=$(busy) k1=$(client_cpu)
	# label server wall-s server-cpu-s client-cpu-s other-cpu-s (whole machine
	# minus server and client: other engineers' work, this script's helpers)
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$srv" "$(calc %.4f "$t1 - $t0")" "$(calc %.2f "$c1 - $c0")" \
		"$(calc %.2f "($k1 - $k0) / $HZ")" "$(calc %.2f "($b1 - $b0 - $k1 + $k0) / $HZ - ($c1 - $c0)")" >>"$RAW"
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

# Names end in .dat: .bin and .bfw are "known" image files, which checks
# keep from being written straight into /dsk (DESIGN §4).
B_PUT_DSK=$(batch put_dsk "put $T/src.bin /dsk/big.dat")
B_GET_DSK=$(batch get_dsk "get /dsk/big.dat /dev/null")
B_PUT_MEM=$(batch put_mem "put $T/src.bin /mem/big.dat")
B_GET_MEM=$(batch get_mem "get /mem/big.dat /dev/null")
B_RM_MEM=$(batch rm_mem "rm /mem/big.dat")
B_RM_SCP=$(batch rm_scp "rm /dsk/scp.dat")
# /tst/N serves N pseudo-random bytes only up to N = 100,000,000 (manual
# §3.3); for more, a file is put into /tst (read and discarded, only its
# name and size kept) and that name is read back: the same generator.
B_PUT_TST=$(batch put_tst "put $T/src.bin /tst/big.dat")
if [ "$SIZE" -le 100000000 ]; then
	B_GET_TST=$(batch get_tst "get /tst/$SIZE /dev/null")
else
	B_GET_TST=$(batch get_tst "get /tst/big.dat /dev/null")
fi
B_PUT_SSHD=$(batch put_sshd "put $T/src.bin $SSHD_DIR/big.dat")
B_GET_SSHD=$(batch get_sshd "get $SSHD_DIR/big.dat /dev/null")
B_SMALL_SLUICE=$T/batch.small_sluice
B_SMALL_SSHD=$T/batch.small_sshd
for f in "${SMALL[@]}"; do echo "put $T/small/$f /dsk/$f"; done >"$B_SMALL_SLUICE"
for f in "${SMALL[@]}"; do echo "put $T/small/$f $SSHD_DIR/$f"; done >"$B_SMALL_SSHD"
B_RM_SMALL=$(batch rm_small "rm /dsk/s*")
B_PWD=$(batch pwd "pwd")

# Which cipher each combination negotiates (reported with the table).
negotiated() { # server [options…]
	sftp_to "$1" "$B_PWD" "${@:2}" -v 2>&1 | sed -n 's/.*kex: server->client cipher: \([^ ]*\) MAC: \([^ ]*\).*/\1 (MAC: \2)/p' | head -1
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
		measure "put_tst_$mode" sluice "$B_PUT_TST" "${opts[@]}"
		measure "get_tst_$mode" sluice "$B_GET_TST" "${opts[@]}"
	done
	# scp over an existing file keeps no old byte it rewrites: it must
	# cost what an upload to a new name costs (no whole-file copy).
	log "run $run/$RUNS: ${SIZE_MIB} MiB scp to a new name and over it"
	sftp_to sluice "$B_RM_SCP" >/dev/null 2>&1 || true
	measure_run scp_new sluice scp_to sluice "$T/src.bin" /dsk/scp.dat
	measure_run scp_over sluice scp_to sluice "$T/src.bin" /dsk/scp.dat
	rm -f "$SSHD_DIR/scp.dat"
	measure_run scp_new sshd scp_to sshd "$T/src.bin" "$SSHD_DIR/scp.dat"
	measure_run scp_over sshd scp_to sshd "$T/src.bin" "$SSHD_DIR/scp.dat"
	log "run $run/$RUNS: $NFILES × 4 KiB put"
	measure small sluice "$B_SMALL_SLUICE"
	measure small sshd "$B_SMALL_SSHD"
	measure pwd sluice "$B_PWD"
	measure pwd sshd "$B_PWD"
	sftp_to sluice "$B_RM_SMALL" >/dev/null
	rm -f "$SSHD_DIR"/s*
done

# ---------------------------------------------------------------- profile

# Where sluice's CPU goes: perf samples (cpu-clock; this VM has no hardware
# counters) of the sluice process during one transfer each, sorted into
# buckets by perfsum.awk; and system calls and context switches counted per
# process name (sluice; sshd's session processes) with tracepoints.
profile() { # name server batch [sftp options…]
	local name=$1 srv=$2 b=$3 pp
	shift 3
	if [ "$srv" = sluice ]; then
		perf record -q -F 999 -e cpu-clock -g -p "$SLUICE_PID" -o "$T/perf.$name.data" 2>/dev/null &
		pp=$!
		sleep 0.5
		sftp_to sluice "$b" "$@" >/dev/null 9>&-
		kill -INT "$pp"
		wait "$pp" || true
		perf script -i "$T/perf.$name.data" 2>/dev/null | awk -f "$ROOT/bench/perfsum.awk" >"$T/perf.$name.buckets.md"
		perf report -i "$T/perf.$name.data" --stdio --no-children --sort symbol --percent-limit 1.5 -g none 2>/dev/null |
			grep -v '^#' | grep -v '^$' | sed 's/ *- *- *$//' | head -20 >"$T/perf.$name.self.txt" || true
	fi
	perf record -q -a -e syscalls:sys_enter_read,syscalls:sys_enter_write,syscalls:sys_enter_pread64,syscalls:sys_enter_pwrite64,syscalls:sys_enter_futex,syscalls:sys_enter_nanosleep,syscalls:sys_enter_epoll_pwait,sched:sched_switch \
		-o "$T/trace.$name.data" 2>/dev/null &
	pp=$!
	sleep 0.5
	sftp_to "$srv" "$b" "$@" >/dev/null 9>&-
	kill -INT "$pp"
	wait "$pp" || true
	# name server read write pread64 pwrite64 futex nanosleep epoll_pwait context-switches
	perf script -i "$T/trace.$name.data" -F comm,event 2>/dev/null |
		awk -v want="$srv" -v name="$name" '$1 == want { sub(/:$/, "", $2); sub(/.*:(sys_enter_)?/, "", $2); c[$2]++ }
			END { printf "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", name, want, c["read"], c["write"], c["pread64"], c["pwrite64"], c["futex"], c["nanosleep"], c["epoll_pwait"], c["sched_switch"] }' >>"$T/syscalls.tsv"
}

if [ "$PERF" = 1 ]; then
	if ! perf stat -e cpu-clock true >/dev/null 2>&1; then
		log "perf does not work here; no profile"
		PERF=0
	else
		log "profiling (perf)"
		: >"$T/syscalls.tsv"
		profile put_dsk_def sluice "$B_PUT_DSK"
		profile get_dsk_def sluice "$B_GET_DSK"
		profile put_mem_def sluice "$B_PUT_MEM"
		profile get_mem_def sluice "$B_GET_MEM"
		sftp_to sluice "$B_RM_MEM" >/dev/null
		profile put_dsk_aes sluice "$B_PUT_DSK" "${AES[@]}"
		profile get_dsk_aes sluice "$B_GET_DSK" "${AES[@]}"
		profile put_def sshd "$B_PUT_SSHD"
		profile get_def sshd "$B_GET_SSHD"
		profile put_aes sshd "$B_PUT_SSHD" "${AES[@]}"
		profile get_aes sshd "$B_GET_SSHD" "${AES[@]}"
		rm -f "$SSHD_DIR/big.dat"
		profile small sluice "$B_SMALL_SLUICE"
		sftp_to sluice "$B_RM_SMALL" >/dev/null
		profile small sshd "$B_SMALL_SSHD"
		rm -f "$SSHD_DIR"/s*
		sftp_to sluice "$(batch rm_dsk "rm /dsk/big.dat")" >/dev/null
	fi
fi

rm -f "$SSHD_DIR/big.dat"
sftp_to sluice "$(batch rm_dsk2 "-rm /dsk/big.dat")" >/dev/null 2>&1

# ---------------------------------------------------------------- idle sessions

# Each idle client runs "pwd" (so the session is up and the SFTP INIT
# done), then blocks in a local command reading a FIFO that this script
# holds open; closing it ends every client at once.
idle_test() { # server run
	local srv=$1 run=$2 pid i ready before after c0 c1
	case $srv in sluice) pid=$SLUICE_PID ;; sshd) pid=$SSHD_PID ;; esac
	rm -f "$T/idle.fifo"
	mkfifo "$T/idle.fifo"
	exec 9<>"$T/idle.fifo"
	IDLE_FIFO_OPEN=1
	local b
	b=$(batch idle "pwd" "!cat $T/idle.fifo")
	sleep 1
	before=$(mem_kb "$pid")
	c0=$(cpu_tree "$pid")
	rm -rf "$T/idle"
	mkdir "$T/idle"
	IDLE_PIDS=()
	for i in $(seq "$NIDLE"); do
		sftp_cmd "$srv" "$b"
		"${SFTP_CMD[@]}" >"$T/idle/$i.out" 2>&1 9>&- &
		IDLE_PIDS+=($!)
		sleep 0.02
	done
	for i in $(seq 600); do
		ready=$(cat "$T"/idle/*.out | grep -c 'Remote working directory' || true)
		[ "$ready" -ge "$NIDLE" ] && break
		sleep 0.1
	done
	[ "$ready" -ge "$NIDLE" ] || die "only $ready of $NIDLE idle sessions came up on $srv"
	sleep 2
	after=$(mem_kb "$pid")
	c1=$(cpu_tree "$pid")
	exec 9>&-
	IDLE_FIFO_OPEN=0
	for i in "${IDLE_PIDS[@]}"; do wait "$i" || true; done
	IDLE_PIDS=()
	# label server before-pss before-rss before-procs after-pss after-rss after-procs cpu-s
	printf 'idle\t%s\t%s\t%s\t%s\n' "$srv" "${before// /	}" "${after// /	}" "$(calc %.2f "($c1 - $c0) / $HZ")" >>"$T/idle.tsv"
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
medcol() { # file column server: median of that column
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

# idle.tsv: idle srv pss0 rss0 n0 pss1 rss1 n1 cpu-s → per-session deltas
awk -F'\t' '{ printf "%s\t%s\t%.1f\t%.1f\t%d\t%.2f\n", $1, $2, ($6 - $3) / N, ($7 - $4) / N, $8 - $5, $9 * 1000 / N }' N="$NIDLE" "$T/idle.tsv" >"$T/idle.per.tsv"
{
	echo
	echo "sluice built from commit $REV ($DIRTY tracked files modified in the working tree) with $(go version | cut -d' ' -f3);" \
		"client and sshd: $(ssh -V 2>&1 | cut -d, -f1); $(nproc) CPUs ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1))${GOMAXPROCS:+; sluice ran with GOMAXPROCS=$GOMAXPROCS}${GOGC:+; sluice ran with GOGC=$GOGC}${GODEBUG:+; GODEBUG=$GODEBUG in its environment}${GOFLAGS:+; built with GOFLAGS=$GOFLAGS}."
	echo "Load average (1, 5, 15 min) at start: $LOAD_START; at end: $(cut -d' ' -f1-3 /proc/loadavg)."
	echo
	echo "### Large files: ${SIZE_MIB} MiB, medians of $RUNS runs"
	echo
	echo "Default client: sluice negotiates \`$CIPHER_DEF_SLUICE\`, sshd \`$CIPHER_DEF_SSHD\`." \
		"With \`-c aes128-gcm@openssh.com\`: sluice \`$CIPHER_AES_SLUICE\`, sshd \`$CIPHER_AES_SSHD\`." \
		"sshd has no /mem: its rows compare with the same sshd tmpfs transfer; \`/tst\` (sluice's test sink: an upload is discarded, a download generated) compares with sshd's tmpfs put and get."
	echo
	echo "| transfer | sluice MB/s | sshd MB/s | throughput sluice/sshd | sluice CPU s/GiB | sshd CPU s/GiB | CPU sluice/sshd |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
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
	echo
	echo
	echo "### scp (SFTP mode) of ${SIZE_MIB} MiB to /dsk: a new name against the same name again (OPEN without TRUNC keeps the old bytes it does not rewrite), medians of $RUNS runs"
	echo
	echo "| | sluice MB/s | sshd MB/s | throughput sluice/sshd | sluice CPU s/GiB | sshd CPU s/GiB |"
	echo "|---|---:|---:|---:|---:|---:|"
	row2() { # title label
		local st sc dt dc
		st=$(med "$2" sluice 3) sc=$(med "$2" sluice 4) dt=$(med "$2" sshd 3) dc=$(med "$2" sshd 4)
		printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$(calc %.0f "$MB / $st")" "$(calc %.0f "$MB / $dt")" \
			"$(calc %.2f "$dt / $st")" "$(calc %.2f "$sc / $GIB")" "$(calc %.2f "$dc / $GIB")"
	}
	row2 "scp to a new name" scp_new
	row2 "scp over the existing file" scp_over
	printf '| over ÷ new, sluice wall time | %s | | | | |\n' "$(calc %.2f "$(med scp_over sluice 3) / $(med scp_new sluice 3)")"
	printf '| over ÷ new, sluice server CPU | %s | | | | |\n' "$(calc %.2f "$(med scp_over sluice 4) / $(med scp_new sluice 4)")"
	echo
	echo "The sftp client ran on the same 2 cores (median CPU per ${SIZE_MIB} MiB transfer: $(awk -F'\t' '$1 ~ /^(put|get)/ { print $5 }' "$RAW" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }') s)." \
		"CPU used by other processes during the large transfers (other work on the machine): median $(awk -F'\t' '$1 ~ /^(put|get)/ { print $6 }' "$RAW" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }') s per transfer, max $(awk -F'\t' '$1 ~ /^(put|get)/ { print $6 }' "$RAW" | sort -g | tail -1) s."
	echo
	echo "### Small files: $NFILES × 4 KiB \`put\` lines in one batch (default client), and the cost of a session; medians of $RUNS runs"
	echo
	echo "| | sluice | sshd | sluice/sshd |"
	echo "|---|---:|---:|---:|"
	st=$(med small sluice 3) dt=$(med small sshd 3) sc=$(med small sluice 4) dc=$(med small sshd 4)
	sp=$(med pwd sluice 3) dp=$(med pwd sshd 3)
	printf '| ms per file (wall, whole session / %s) | %s | %s | %s |\n' "$NFILES" "$(calc %.3f "$st * 1000 / $NFILES")" "$(calc %.3f "$dt * 1000 / $NFILES")" "$(calc %.2f "$st / $dt")"
	printf '| ms per file (wall, less the median `pwd` session) | %s | %s | %s |\n' "$(calc %.3f "($st - $sp) * 1000 / $NFILES")" "$(calc %.3f "($dt - $dp) * 1000 / $NFILES")" "$(calc %.2f "($st - $sp) / ($dt - $dp)")"
	printf '| server CPU ms per file | %s | %s | %s |\n' "$(calc %.3f "$sc * 1000 / $NFILES")" "$(calc %.3f "$dc * 1000 / $NFILES")" "$(calc %.2f "$sc / $dc")"
	st=$(med pwd sluice 3) dt=$(med pwd sshd 3) sc=$(med pwd sluice 4) dc=$(med pwd sshd 4)
	printf '| one session with only `pwd` (connect, auth, INIT), wall ms | %s | %s | %s |\n' "$(calc %.0f "$st * 1000")" "$(calc %.0f "$dt * 1000")" "$(calc %.2f "$st / $dt")"
	sc=$(medcol "$T/idle.per.tsv" 6 sluice) dc=$(medcol "$T/idle.per.tsv" 6 sshd)
	printf '| server CPU ms per session set-up (from the idle test) | %s | %s | %s |\n' "$sc" "$dc" "$(calc %.2f "$sc / $dc")"
	echo
	echo "### Idle sessions: $NIDLE \`sftp\` sessions held open, servers restarted before each run, medians of $RUNS runs"
	echo
	echo "| | sluice | sshd | sluice/sshd |"
	echo "|---|---:|---:|---:|"
	sp=$(medcol "$T/idle.per.tsv" 3 sluice) dp=$(medcol "$T/idle.per.tsv" 3 sshd)
	sr=$(medcol "$T/idle.per.tsv" 4 sluice) dr=$(medcol "$T/idle.per.tsv" 4 sshd)
	sn=$(medcol "$T/idle.per.tsv" 5 sluice) dn=$(medcol "$T/idle.per.tsv" 5 sshd)
	printf '| PSS per session (KiB) | %s | %s | %s (1/%s) |\n' "$sp" "$dp" "$(calc %.4f "$sp / $dp")" "$(calc %.2f "$dp / $sp")"
	printf '| RSS per session (KiB; sshd: sum over processes) | %s | %s | %s |\n' "$sr" "$dr" "$(calc %.3f "$sr / $dr")"
	printf '| processes per session | %s | %s | |\n' "$(calc %.0f "$sn / $NIDLE")" "$(calc %.0f "$dn / $NIDLE")"
	echo
} | tee "$T/table.md"

if [ "$PERF" = 1 ]; then
	{
		echo "### Profile of sluice (perf record -g, cpu-clock, one ${SIZE_MIB} MiB transfer or one batch of $NFILES small puts each)"
		echo
		echo "System calls and context switches per MiB transferred, and per file of the $NFILES × 4 KiB puts (rows \"small\"; perf tracepoints, counted for the server's processes only):"
		echo
		echo "| transfer | server | read | write | pread64 | pwrite64 | futex | nanosleep | epoll_pwait | context switches |"
		echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
		awk -F'\t' -v mib="$SIZE_MIB" -v nf="$NFILES" '{ d = $1 == "small" ? nf : mib; printf "| %s | %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f |\n", $1, $2, $3 / d, $4 / d, $5 / d, $6 / d, $7 / d, $8 / d, $9 / d, $10 / d }' "$T/syscalls.tsv"
		for f in "$T"/perf.*.buckets.md; do
			w=$(basename "$f" .buckets.md)
			w=${w#perf.}
			echo
			echo "#### sluice, $w: CPU samples by bucket"
			echo
			cat "$f"
			echo
			echo "Top symbols (self time):"
			echo
			echo '```'
			cat "$T/perf.$w.self.txt"
			echo '```'
		done
	} | tee "$T/perf.md"
fi
log "raw results: $RAW, $T/idle.tsv (kept only with KEEP=1)"
