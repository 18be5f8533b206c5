#!/usr/bin/env bash
# bench/ftp.sh — sluice's FTP gateway against a private vsftpd, side by side
# on loopback, both serving a tmpfs directory (issue 4's benchmark). Results:
# docs/performance-ftp.md (to be merged into docs/performance.md).
#
# Usage: bench/ftp.sh [-n RUNS]
#
# Environment (defaults in brackets):
#   RUNS         runs per measurement; medians are reported              [5]
#   SIZE_MIB     size of the large STOR/RETR (curl)                      [512]
#   NFILES       number of 4 KiB files in the lftp `mirror -R` test      [1000]
#   LOAD_MAX     wait before each measurement block until the 1-minute
#                load average is below this                              [1.0]
#   LOAD_WAIT    longest wait for one block, seconds                     [600]
#   LOAD_BUDGET  longest wait for all blocks together, seconds; once it
#                is spent, blocks start at once (the load is reported)   [720]
#   PROFILE      1: after the timed runs, profile sluice with pprof during
#                STORs and RETRs, and count system calls with strace     [1]
#   PROF_SECONDS length of each pprof CPU profile                        [6]
#   WARMUP       untimed STOR+RETR rounds per server before the runs     [1]
#   KEEP         1: keep the work directory (logs, raw results, profiles)[0]
#   WORK         parent of the work directory; must be tmpfs             [/dev/shm]
#
# What runs:
#   sluice  `sluice serve --ssh-addr "" --ftp-addr 127.0.0.1:PORT` on a fresh
#           data directory under $WORK: first run creates sluice.toml and the
#           supervisor "root" (password read from stdout), then [ftp]
#           direct = true, a passive port range, raised [limits] and [mem]
#           are set; STOR /dsk/NAME then writes DATA/dsk/NAME atomically
#           (temp file, fsync, rename), RETR uses sendfile.
#   vsftpd  /usr/sbin/vsftpd with the anonymous-upload configuration of
#           ../shared/REFERENCE-SERVERS.md (anon_root on $WORK, uploads into
#           pub/), plus anon_umask=022 so that anonymous RETR may read the
#           uploaded file (vsftpd's default 077 makes it 0600 → 550).
#   vlocal  the same vsftpd, logged in as a local user (VLOCAL_USER, created
#           if missing, with a new random password each run, home and
#           local_root $WORK/…/vsftpd-root/local): a password checked by
#           PAM (pam_unix, Debian's yescrypt hash), the fair row for
#           sluice's password login. VLOCAL=0 leaves it out (it needs root
#           for useradd and chpasswd).
#   Clients curl (STOR: `curl -T FILE URL`, RETR: `curl -o /dev/null URL`;
#           passive, curl's default EPSV) and lftp (`mirror -R` of NFILES
#           files into the existing flat directory /dsk or /pub; lftp then
#           sets each file's time: MFMT on sluice, MDTM with a time on
#           vsftpd (ftp:use-mdtm-overloaded; vsftpd's mdtm_write), so both
#           do the same work; SITE UTIME is off, neither has it).
#
# Time: curl's time_total (connect, login, transfer, final 226 reply; for
# sluice's STOR that includes its fsync and rename); lftp: wall clock of the
# whole lftp process. Server CPU from /proc/PID/stat (clock ticks): sluice's
# utime+stime; vsftpd forks per session, so utime+stime+cutime+cstime over
# its whole process tree (cpu_tree, as in bench/sftp.sh), read after the
# session's processes have been reaped. vsftpd's per-session process that
# moves the data is orphaned when its privileged parent exits, and an
# orphan's CPU never reaches the listener's cutime/cstime (it goes to
# whoever adopts it; measured: the listener's counters stay at 0). So
# vsftpd runs under bench/ftp-reaper.py, a child subreaper that adopts and
# reaps those orphans: its cutime/cstime then hold their CPU.
# A login-only session (curl -I on the root: connect, USER/PASS, PWD, QUIT)
# is measured too: sluice checks a bcrypt password hash per login, vsftpd's
# anonymous login checks nothing.
# Every measurement also records the CPU the rest of the machine used
# meanwhile (/proc/stat busy time less server and client): other work.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
VLOCAL=${VLOCAL:-1}
VLOCAL_USER=${VLOCAL_USER:-sluicebench}

RUNS=${RUNS:-5}
while getopts n: opt; do
	case $opt in
	n) RUNS=$OPTARG ;;
	*) echo "usage: $0 [-n RUNS]" >&2; exit 2 ;;
	esac
done
SIZE_MIB=${SIZE_MIB:-512}
NFILES=${NFILES:-1000}
LOAD_MAX=${LOAD_MAX:-1.0}
LOAD_WAIT=${LOAD_WAIT:-600}
LOAD_BUDGET=${LOAD_BUDGET:-720}
PROFILE=${PROFILE:-1}
PROF_SECONDS=${PROF_SECONDS:-6}
WARMUP=${WARMUP:-1}
KEEP=${KEEP:-0}
WORK=${WORK:-/dev/shm}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SIZE=$((SIZE_MIB * 1024 * 1024))
HZ=$(getconf CLK_TCK)
T=$(mktemp -d "$WORK/sluice-ftpbench.XXXXXX")
RAW=$T/raw.tsv   # label server seconds server-ticks client-ticks other-ticks data-seconds
LOADS=$T/load.tsv # block load1 load5 load15 waited-s reached(1/0)
: >"$RAW"
: >"$LOADS"
T_START=$(date +%s)
WAITED_TOTAL=0

SLUICE_PID= VSFTPD_PID=


stop_pid() { # pid
	[ -n "$1" ] || return 0
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}
cleanup() {
	stop_pid "$SLUICE_PID"
	stop_pid "$VSFTPD_PID"
	if [ "$KEEP" = 1 ]; then log "work directory kept: $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_load BLOCK: wait until the 1-minute load average is below LOAD_MAX,
# at most LOAD_WAIT seconds and within the LOAD_BUDGET of all waits; the
# load at the start of the block goes into $LOADS.
wait_load() {
	local t0 l waited=0 ok=1 left
	t0=$(date +%s)
	while :; do
		l=$(cut -d' ' -f1 /proc/loadavg)
		awk -v l="$l" -v m="$LOAD_MAX" 'BEGIN { exit !(l < m) }' && break
		left=$((LOAD_BUDGET - WAITED_TOTAL - waited))
		if [ "$waited" -ge "$LOAD_WAIT" ] || [ "$left" -le 0 ]; then
			ok=0
			log "block $1: load $l still ≥ $LOAD_MAX after ${waited}s (budget left ${left}s); measuring anyway"
			break
		fi
		[ $((waited % 60)) = 0 ] && log "block $1: load $l ≥ $LOAD_MAX, waiting (${waited}s so far)"
		sleep 5
		waited=$(($(date +%s) - t0))
	done
	WAITED_TOTAL=$((WAITED_TOTAL + waited))
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$(cut -d' ' -f1 /proc/loadavg)" "$(cut -d' ' -f2 /proc/loadavg)" \
		"$(cut -d' ' -f3 /proc/loadavg)" "$waited" "$ok" >>"$LOADS"
}

# ---------------------------------------------------------------- sluice

log "work directory $T; runs=$RUNS size=${SIZE_MIB}MiB files=$NFILES"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
(cd "$ROOT" && go build -o "$T/sluice" ./cmd/sluice) || die "build failed"
REV=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(cd "$ROOT" && git status --porcelain 2>/dev/null | grep -cv '^??' || true)

PASV_N=200
SD=$T/sluice-data
mkdir -p "$SD"
SLUICE_PORT=$(free_port)
TAKEN+=("$SLUICE_PORT-$SLUICE_PORT")
PPROF_PORT=$(free_port)
TAKEN+=("$PPROF_PORT-$PPROF_PORT")
SLUICE_PASV=$(free_range $PASV_N)

# First run: writes sluice.toml with the supervisor "root", and its
# password to DATA/initial-root-password (stdout is not a terminal).
"$T/sluice" serve --data "$SD" --ssh-addr "" --ftp-addr "127.0.0.1:$SLUICE_PORT" >"$T/first.out" 2>"$T/first.log" &
SLUICE_PID=$!
wait_listen "$SLUICE_PORT" "$SLUICE_PID" || { cat "$T/first.log" >&2; die "sluice (first run) did not start"; }
PW=$(cat "$SD/initial-root-password" 2>/dev/null || true)
stop_pid "$SLUICE_PID"
SLUICE_PID=
[ -n "$PW" ] || { cat "$T/first.out" "$T/first.log" >&2; die "no supervisor password on sluice's first run"; }

CONF=$SD/sluice.toml
toml_set "$CONF" ftp direct true
toml_set "$CONF" ftp pasv_min_port "$SLUICE_PASV"
toml_set "$CONF" ftp pasv_max_port $((SLUICE_PASV + PASV_N - 1))
toml_set "$CONF" limits max_sessions 64
toml_set "$CONF" limits max_sessions_per_ip 64
toml_set "$CONF" limits max_file_bytes 2147483648
toml_set "$CONF" mem max_bytes 1073741824
chmod 600 "$CONF"
"$T/sluice" config --data "$SD" >"$T/config.out" 2>&1 || { cat "$T/config.out" >&2; die "sluice.toml does not parse"; }

# Started once with pprof on (an idle HTTP listener, no cost until asked).
"$T/sluice" serve --data "$SD" --ssh-addr "" --ftp-addr "127.0.0.1:$SLUICE_PORT" \
	--pprof-addr "127.0.0.1:$PPROF_PORT" >>"$T/sluice.out" 2>>"$T/sluice.log" &
SLUICE_PID=$!
wait_listen "$SLUICE_PORT" "$SLUICE_PID" || { cat "$T/sluice.log" >&2; die "sluice did not start with the benchmark configuration"; }
SURL=ftp://root:$PW@127.0.0.1:$SLUICE_PORT

# ---------------------------------------------------------------- vsftpd

VSFTPD_PORT=$(free_port)
TAKEN+=("$VSFTPD_PORT-$VSFTPD_PORT")
VSFTPD_PASV=$(free_range $PASV_N)
VR=$T/vsftpd-root
mkdir -p "$VR/pub" "$VR/local" "$T/vsftpd-empty"
chown ftp:ftp "$VR/pub"
SERVERS="sluice vsftpd"
if [ "$VLOCAL" = 1 ]; then
	id "$VLOCAL_USER" >/dev/null 2>&1 || useradd -M -s /bin/bash "$VLOCAL_USER" || die "useradd $VLOCAL_USER failed (VLOCAL=0 leaves the local-user row out)"
	VLPW=$(head -c 12 /dev/urandom | base64 | tr -d '/+=')
	echo "$VLOCAL_USER:$VLPW" | chpasswd || die "chpasswd failed"
	usermod -d "$VR/local" "$VLOCAL_USER" # vsftpd changes into the home first
	chmod 711 "$T"                         # mktemp's 0700: the user must pass through
	chown "$VLOCAL_USER" "$VR/local"
	SERVERS="sluice vsftpd vlocal"
fi
chmod 755 "$VR" "$T/vsftpd-empty"
cat >"$T/vsftpd.conf" <<EOF
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=$VSFTPD_PORT
background=NO
anonymous_enable=YES
no_anon_password=YES
anon_root=$VR
local_enable=$([ "$VLOCAL" = 1 ] && echo YES || echo NO)
local_root=$VR/local
local_umask=022
pam_service_name=vsftpd
write_enable=YES
anon_upload_enable=YES
anon_other_write_enable=YES
anon_umask=022
pasv_enable=YES
pasv_address=127.0.0.1
pasv_min_port=$VSFTPD_PASV
pasv_max_port=$((VSFTPD_PASV + PASV_N - 1))
connect_from_port_20=NO
secure_chroot_dir=$T/vsftpd-empty
xferlog_enable=NO
seccomp_sandbox=NO
EOF
"$ROOT/bench/ftp-reaper.py" /usr/sbin/vsftpd "$T/vsftpd.conf" >"$T/vsftpd.log" 2>&1 &
VSFTPD_PID=$! # the reaper; vsftpd's listener is its child
wait_listen "$VSFTPD_PORT" "$VSFTPD_PID" || { cat "$T/vsftpd.log" >&2; die "vsftpd did not start"; }
VURL=ftp://127.0.0.1:$VSFTPD_PORT
VLURL=ftp://$VLOCAL_USER:${VLPW:-}@127.0.0.1:$VSFTPD_PORT
log "sluice pid $SLUICE_PID port $SLUICE_PORT (pasv $SLUICE_PASV+$PASV_N, pprof $PPROF_PORT); vsftpd pid $VSFTPD_PID port $VSFTPD_PORT (pasv $VSFTPD_PASV+$PASV_N)"

# ---------------------------------------------------------------- measuring

# cpu SERVER: the server's CPU ticks so far. For vsftpd, first wait (up to
# 5 s) until the session's processes have exited and been reaped (only the
# reaper and the listener left), so that a process is not read both living
# and in its parent's cutime.
cpu() {
	case $1 in
	sluice) cpu_tree "$SLUICE_PID" ;;
	vsftpd | vlocal)
		for _ in $(seq 500); do
			[ "$(tree_pids "$VSFTPD_PID" | wc -l)" -le 2 ] && break
			sleep 0.01
		done
		cpu_tree "$VSFTPD_PID"
		;;
	esac
}

# measure LABEL SERVER KIND CMD…: runs CMD once and appends to $RAW the
# seconds (KIND curl: curl's time_total, which CMD prints, followed by its
# time_pretransfer; wall: the wall clock), the server's CPU ticks, the
# client's, everything else's, and the seconds of the data phase (curl:
# time_total − time_pretransfer, i.e. from the STOR/RETR command to the
# final reply, without connect and login; wall: the same as the seconds).
measure() {
	local label=$1 srv=$2 kind=$3 c0 c1 b0 b1 k0 k1 t0 t1 secs dsecs out
	shift 3
	c0=$(cpu "$srv") b0=$(busy) k0=$(client_cpu)
	t0=$(now)
	out=$("$@" 2>"$T/last.err") || { cat "$T/last.err" >&2; die "$label on $srv failed: $*"; }
	t1=$(now)
	c1=$(cpu "$srv") b1=$(busy) k1=$(client_cpu)
	case $kind in
	curl) secs=${out% *} dsecs=$(calc %.6f "${out% *} - ${out#* }") ;;
	wall) secs=$(calc %.6f "$t1 - $t0") dsecs=$secs ;;
	esac
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$srv" "$secs" $((c1 - c0)) $((k1 - k0)) $((b1 - b0 - (c1 - c0) - (k1 - k0))) "$dsecs" >>"$RAW"
}

curl_login() { curl -sS --fail -I "$1/" -o /dev/null -w '%{time_total} %{time_pretransfer}'; }
curl_stor() { curl -sS --fail -T "$1" "$2" -o /dev/null -w '%{time_total} %{time_pretransfer}'; }
curl_retr() { # url: prints time_total; fails unless all bytes came
	local r
	r=$(curl -sS --fail -o /dev/null "$1" -w '%{time_total} %{time_pretransfer} %{size_download}')
	[ "${r##* }" = "$SIZE" ] || { echo "RETR got ${r##* } bytes, not $SIZE" >&2; return 1; }
	echo "${r% *}"
}
LFTP_SET="set ftp:ssl-allow no; set cmd:fail-exit yes; set net:max-retries 1; set net:timeout 20; set ftp:use-site-utime no; set ftp:use-site-utime2 no; set ftp:use-mdtm-overloaded yes"
lftp_mirror() { # server
	case $1 in
	sluice) lftp -u "root,$PW" -p "$SLUICE_PORT" -e "$LFTP_SET; cd dsk; mirror -R --no-perms --no-umask $T/small .; quit" 127.0.0.1 ;;
	vsftpd) lftp -u anonymous, -p "$VSFTPD_PORT" -e "$LFTP_SET; cd pub; mirror -R --no-perms --no-umask $T/small .; quit" 127.0.0.1 ;;
	vlocal) lftp -u "$VLOCAL_USER,$VLPW" -p "$VSFTPD_PORT" -e "$LFTP_SET; mirror -R --no-perms --no-umask $T/small .; quit" 127.0.0.1 ;;
	esac >/dev/null
}
dir_of() { case $1 in sluice) echo "$SD/dsk" ;; vsftpd) echo "$VR/pub" ;; vlocal) echo "$VR/local" ;; esac; }
url_of() { case $1 in sluice) echo "$SURL/dsk/big.dat" ;; vsftpd) echo "$VURL/pub/big.dat" ;; vlocal) echo "$VLURL/big.dat" ;; esac; }

check_size() { # file bytes
	local s
	s=$(stat -c %s "$1" 2>/dev/null || echo missing)
	[ "$s" = "$2" ] || die "$1 is $s bytes, not $2"
}
cmp_big() { # server: the stored file is the source, byte for byte
	cmp -s "$T/src.dat" "$(dir_of "$1")/big.dat" || die "$1 stored a different big.dat"
}

# ---------------------------------------------------------------- data

log "creating the ${SIZE_MIB} MiB source file and $NFILES × 4 KiB files"
head -c "$SIZE" /dev/urandom >"$T/src.dat"
mkdir "$T/small"
head -c $((NFILES * 4096)) /dev/urandom | split -a 5 -d -b 4096 - "$T/small/s"

# Smoke test: each server takes a STOR, gives it back, and lftp's mirror
# puts files into the existing flat directory without creating one.
for srv in $SERVERS; do
	curl -sS --fail -T "$T/small/s00000" "$(url_of "$srv")" -o /dev/null || die "smoke STOR to $srv failed"
	curl -sS --fail -o "$T/smoke.$srv" "$(url_of "$srv")" || die "smoke RETR from $srv failed"
	cmp -s "$T/small/s00000" "$T/smoke.$srv" || die "smoke RETR from $srv returned other bytes"
	rm -f "$(dir_of "$srv")/big.dat"
done

# Warm-up: the first STOR of a run makes the kernel find SIZE of free
# pages for tmpfs (reclaim on a machine whose memory other work uses); one
# untimed round per server keeps that out of run 1.
for _ in $(seq "$WARMUP"); do
	log "warm-up: one untimed ${SIZE_MIB} MiB STOR and RETR per server"
	for srv in $SERVERS; do
		rm -f "$(dir_of "$srv")/big.dat"
		curl_stor "$T/src.dat" "$(url_of "$srv")" >/dev/null || die "warm-up STOR to $srv failed"
		curl_retr "$(url_of "$srv")" >/dev/null || die "warm-up RETR from $srv failed"
	done
done

# ---------------------------------------------------------------- runs

# Each run is two blocks (large files, small files), each preceded by a
# wait for a quiet machine. The server that goes first alternates.
for run in $(seq "$RUNS"); do
	if [ $((run % 2)) = 1 ]; then order=$SERVERS; else order=$(echo "$SERVERS" | tr ' ' '\n' | tac | tr '\n' ' '); fi

	wait_load "run$run-large"
	log "run $run/$RUNS: ${SIZE_MIB} MiB STOR and RETR ($order first; load $(cut -d' ' -f1 /proc/loadavg))"
	for srv in $order; do
		rm -f "$(dir_of "$srv")/big.dat" # each STOR creates a new file
		measure stor "$srv" curl curl_stor "$T/src.dat" "$(url_of "$srv")"
		check_size "$(dir_of "$srv")/big.dat" "$SIZE"
	done
	if [ "$run" = 1 ]; then for srv in $SERVERS; do cmp_big "$srv"; done; fi
	for srv in $order; do
		measure retr "$srv" curl curl_retr "$(url_of "$srv")"
	done
	for srv in $order; do
		case $srv in sluice) u=$SURL ;; vsftpd) u=$VURL ;; vlocal) u=$VLURL ;; esac
		measure login "$srv" curl curl_login "$u"
	done

	wait_load "run$run-small"
	log "run $run/$RUNS: lftp mirror -R of $NFILES × 4 KiB ($order first; load $(cut -d' ' -f1 /proc/loadavg))"
	for srv in $order; do
		rm -f "$(dir_of "$srv")"/s[0-9]*
		measure small "$srv" wall lftp_mirror "$srv"
		n=$(find "$(dir_of "$srv")" -name 's[0-9]*' -size 4096c | wc -l)
		[ "$n" = "$NFILES" ] || die "$srv: mirror left $n files of $NFILES"
	done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- profile

# pprof CPU profile of sluice while STORs (then RETRs) of the big file run
# back to back for PROF_SECONDS; and system calls counted with strace -c -f
# (which slows the server: counts only, no times) for one STOR, one RETR
# and one lftp mirror of the small files on each server.
if [ "$PROFILE" = 1 ]; then
	wait_load profile
	log "profiling sluice (pprof, ${PROF_SECONDS}s each for STOR and RETR)"
	for what in stor retr; do
		curl -sS -o "$T/$what.pprof" "http://127.0.0.1:$PPROF_PORT/debug/pprof/profile?seconds=$PROF_SECONDS" &
		pp=$!
		sleep 0.3
		n=0 c0=$(cpu sluice)
		while kill -0 "$pp" 2>/dev/null; do
			if [ "$what" = stor ]; then
				curl_stor "$T/src.dat" "$(url_of sluice)" >/dev/null
			else
				curl_retr "$(url_of sluice)" >/dev/null
			fi
			n=$((n + 1))
		done
		wait "$pp"
		echo "$n $(($(cpu sluice) - c0))" >"$T/$what.count"
		(cd "$ROOT" && go tool pprof -top -nodecount=25 "$T/sluice" "$T/$what.pprof") >"$T/$what.top" 2>/dev/null
		(cd "$ROOT" && go tool pprof -top -cum -nodecount=30 -ignore=bcrypt "$T/sluice" "$T/$what.pprof") >"$T/$what.cum" 2>/dev/null
	done
	if command -v strace >/dev/null; then
		log "counting system calls (strace -c -f)"
		for srv in sluice vsftpd; do
			case $srv in sluice) pid=$SLUICE_PID ;; vsftpd) pid=$(pgrep -P "$VSFTPD_PID" | head -1) ;; esac # vsftpd: the listener, not the reaper
			for what in stor retr small; do
				[ "$what" = small ] && rm -f "$(dir_of "$srv")"/s[0-9]*
				strace -c -f -p "$pid" -o "$T/strace.$srv.$what" 2>/dev/null &
				sp=$!
				sleep 0.5
				case $what in
				stor) curl_stor "$T/src.dat" "$(url_of "$srv")" >/dev/null ;;
				retr) curl_retr "$(url_of "$srv")" >/dev/null ;;
				small) lftp_mirror "$srv" >/dev/null ;;
				esac
				sleep 0.2
				kill -INT "$sp"
				wait "$sp" || true
			done
		done
	fi
fi

# ---------------------------------------------------------------- report

med() { # label server column (3 seconds, 4 server ticks, 5 client ticks, 6 other ticks, 7 data seconds)
	awk -F'\t' -v l="$1" -v s="$2" -v c="$3" '$1 == l && $2 == s { print $c }' "$RAW" | sort -g |
		awk '{ v[NR] = $1 } END { if (NR == 0) { print "nan"; exit } if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
runs2() { # label server → "total (data), …" in run order
	awk -F'\t' -v l="$1" -v s="$2" '$1 == l && $2 == s { printf "%s%.3f", (n++ ? ", " : ""), $3; if ($1 != "small") printf " (%.3f)", $7 }' "$RAW"
}

MB=$(calc %.6f "$SIZE / 1e6")
GIB=$(calc %.6f "$SIZE / 1073741824")
SMB=$(calc %.6f "$NFILES * 4096 / 1e6")
SGIB=$(calc %.8f "$NFILES * 4096 / 1073741824")
ROWS=$T/rows.tsv # label tput-ratio cpu-ratio
: >"$ROWS"
row() { # title label mb gib [reference server, default vsftpd]
	local st sc dt dc ref=${5:-vsftpd} key=$2
	[ "$ref" = vsftpd ] || key=$2-$ref
	st=$(med "$2" sluice 3) sc=$(calc %.4f "$(med "$2" sluice 4) / $HZ")
	dt=$(med "$2" "$ref" 3) dc=$(calc %.4f "$(med "$2" "$ref" 4) / $HZ")
	printf '%s\t%s\t%s\n' "$key" "$(calc %.2f "$dt / $st")" "$(awk -v a="$sc" -v b="$dc" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "inf" }')" >>"$ROWS"
	printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$1" \
		"$(calc %.0f "$3 / $st")" "$(calc %.0f "$3 / $dt")" "$(calc %.2f "$dt / $st")" \
		"$(calc %.2f "$sc / $4")" "$(calc %.2f "$dc / $4")" \
		"$(awk -v a="$sc" -v b="$dc" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "∞" }')"
}
goal() { # numerator denominator op bound → "1.23× (met: ≥ 1.1)"; "n/a" unless the denominator is > 0
	awk -v op="$3" -v b="$4" "BEGIN { d = $2; if (d <= 0) { print \"n/a (no positive reference figure)\"; exit }
		v = ($1) / d; ok = (op == \">=\" ? v >= b : v <= b)
		printf \"%.2f× (%s: %s %s)\", v, (ok ? \"met\" : \"NOT met\"), (op == \">=\" ? \"≥\" : \"≤\"), b }"
}
verdict() { # label → "met" / "not met" against 1.0× for throughput and CPU
	awk -F'\t' -v l="$1" '$1 == l { printf "throughput %s× (%s), CPU %s× (%s)", $2, ($2 >= 1.0 ? "met" : "NOT met"), $3, ($3 != "inf" && $3 <= 1.0 ? "met" : "NOT met") }' "$ROWS"
}

{
	echo "sluice built from commit $REV ($DIRTY tracked files modified in the working tree) with $(go version | cut -d' ' -f3);" \
		"vsftpd $(dpkg-query -W -f '${Version}' vsftpd 2>/dev/null || echo '?');" \
		"$(curl --version | head -1 | cut -d' ' -f1-2); $(lftp --version | head -1 | sed 's/ *|.*Version \([^ ]*\).*/ \1/');" \
		"$(nproc) CPUs ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)), $(uname -r)${GOMAXPROCS:+; sluice ran with GOMAXPROCS=$GOMAXPROCS}${GOGC:+; sluice ran with GOGC=$GOGC}${GODEBUG:+; GODEBUG=$GODEBUG in its environment}${GOFLAGS:+; built with GOFLAGS=$GOFLAGS}."
	echo
	echo "Load average (1, 5, 15 min) at start: $LOAD_START; after the timed runs: $LOAD_END." \
		"Before each block the script waited for a 1-minute load below $LOAD_MAX (at most ${LOAD_WAIT}s, ${LOAD_BUDGET}s in all);" \
		"it waited ${WAITED_TOTAL}s in all, and $(awk -F'\t' '$6 == 0' "$LOADS" | wc -l) of $(wc -l <"$LOADS") blocks started without reaching it."
	echo "1-minute load at the start of each block (after the wait): $(awk -F'\t' '{ printf "%s%s %s", (n++ ? ", " : ""), $1, $2 }' "$LOADS")."
	echo
	echo "### ${SIZE_MIB} MiB with curl, $NFILES × 4 KiB with lftp \`mirror -R\`; medians of $RUNS runs"
	echo
	echo "| transfer | sluice MB/s | vsftpd MB/s | throughput sluice/vsftpd | sluice CPU s/GiB | vsftpd CPU s/GiB | CPU sluice/vsftpd |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
	row "STOR ${SIZE_MIB} MiB (curl -T)" stor "$MB" "$GIB"
	row "RETR ${SIZE_MIB} MiB (curl -o /dev/null)" retr "$MB" "$GIB"
	row "$NFILES × 4 KiB, lftp mirror -R" small "$SMB" "$SGIB"
	echo
	st=$(med small sluice 3) dt=$(med small vsftpd 3) sc=$(med small sluice 4) dc=$(med small vsftpd 4)
	echo "Small files per file: sluice $(calc %.3f "$st * 1000 / $NFILES") ms wall and $(calc %.3f "$sc * 1000 / $HZ / $NFILES") ms server CPU;" \
		"vsftpd $(calc %.3f "$dt * 1000 / $NFILES") ms wall and $(calc %.3f "$dc * 1000 / $HZ / $NFILES") ms server CPU" \
		"(whole lftp session, with login and the LIST of the target directory, divided by $NFILES)."
	echo
	sl=$(med login sluice 4) vl=$(med login vsftpd 4)
	echo "One login-only session (curl -I: connect, USER/PASS, PWD, QUIT): sluice $(calc %.1f "$(med login sluice 3) * 1000") ms wall and $(calc %.2f "$sl / $HZ") s server CPU;" \
		"vsftpd $(calc %.1f "$(med login vsftpd 3) * 1000") ms wall and $(calc %.2f "$vl / $HZ") s server CPU." \
		"Each curl transfer above is one such session. Less one session's CPU, the server CPU per GiB is:" \
		"STOR sluice $(calc %.2f "($(med stor sluice 4) - $sl) / $HZ / $GIB"), vsftpd $(calc %.2f "($(med stor vsftpd 4) - $vl) / $HZ / $GIB");" \
		"RETR sluice $(calc %.2f "($(med retr sluice 4) - $sl) / $HZ / $GIB"), vsftpd $(calc %.2f "($(med retr vsftpd 4) - $vl) / $HZ / $GIB") s/GiB."
	echo
	echo "Data phase only (curl's time_total − time_pretransfer: from the STOR/RETR command to the final reply, without connect and login), median MB/s:" \
		"STOR sluice $(calc %.0f "$MB / $(med stor sluice 7)"), vsftpd $(calc %.0f "$MB / $(med stor vsftpd 7)") ($(calc %.2f "$(med stor vsftpd 7) / $(med stor sluice 7)")×);" \
		"RETR sluice $(calc %.0f "$MB / $(med retr sluice 7)"), vsftpd $(calc %.0f "$MB / $(med retr vsftpd 7)") ($(calc %.2f "$(med retr vsftpd 7) / $(med retr sluice 7)")×)."
	echo
	echo "Whole sessions against vsftpd's anonymous login, each against 1.0× (not issue 11's targets, which follow):"
	echo
	echo "- STOR: $(verdict stor)"
	echo "- RETR: $(verdict retr)"
	echo "- small files: $(verdict small)"
	echo
	# Issue 11's targets, each from the figures above: the data phase's
	# throughput, and its CPU per GiB as the transfer's CPU less one
	# login-only session's (both medians, in clock ticks: about ±0.01 s on
	# a transfer's 0.2-0.5 s).
	echo "Issue 11's targets:"
	echo
	for what in stor retr; do
		echo "- ${what^^} data phase: throughput $(goal "$(med "$what" vsftpd 7)" "$(med "$what" sluice 7)" ">=" 1.1)," \
			"CPU per GiB less one login $(goal "$(med "$what" sluice 4) - $sl" "$(med "$what" vsftpd 4) - $vl" "<=" 1.0)"
	done
	if [ "$VLOCAL" = 1 ]; then
		for what in stor retr; do
			echo "- ${what^^} whole session with a password login, against vsftpd with a local user: $(goal "$(med "$what" vlocal 3)" "$(med "$what" sluice 3)" ">=" 0.95)"
		done
	fi
	echo "- $NFILES × 4 KiB lftp mirror -R, against vsftpd anonymous: $(goal "$(med small vsftpd 3)" "$(med small sluice 3)" ">=" 1.0)"
	echo
	if [ "$VLOCAL" = 1 ]; then
		echo "### Against vsftpd with a local user (password checked by PAM, yescrypt); medians of $RUNS runs"
		echo
		echo "| transfer | sluice MB/s | vsftpd (local user) MB/s | throughput sluice/vsftpd | sluice CPU s/GiB | vsftpd CPU s/GiB | CPU sluice/vsftpd |"
		echo "|---|---:|---:|---:|---:|---:|---:|"
		row "STOR ${SIZE_MIB} MiB (curl -T), whole session" stor "$MB" "$GIB" vlocal
		row "RETR ${SIZE_MIB} MiB (curl -o /dev/null), whole session" retr "$MB" "$GIB" vlocal
		row "$NFILES × 4 KiB, lftp mirror -R" small "$SMB" "$SGIB" vlocal
		echo
		echo "One login-only session with a password: sluice $(calc %.1f "$(med login sluice 3) * 1000") ms wall and $(calc %.3f "$(med login sluice 4) / $HZ") s server CPU (bcrypt, cost 10);" \
			"vsftpd with a local user $(calc %.1f "$(med login vlocal 3) * 1000") ms wall and $(calc %.3f "$(med login vlocal 4) / $HZ") s server CPU (PAM: pam_unix with yescrypt, pam_shells, pam_listfile)." \
			"Data phase: STOR vsftpd (local user) $(calc %.0f "$MB / $(med stor vlocal 7)") MB/s ($(calc %.2f "$(med stor vlocal 7) / $(med stor sluice 7)")× sluice/vsftpd), RETR $(calc %.0f "$MB / $(med retr vlocal 7)") MB/s ($(calc %.2f "$(med retr vlocal 7) / $(med retr sluice 7)")×)."
		echo
		echo "- STOR, whole session with a password login: $(verdict stor-vlocal)"
		echo "- RETR, whole session with a password login: $(verdict retr-vlocal)"
		echo "- small files: $(verdict small-vlocal)"
		echo
	fi
	echo "Per run (in run order; CPU in clock ticks of 1/$HZ s, so a 0.01 s resolution):"
	echo
	echo "| | sluice seconds (data phase) | vsftpd seconds (data phase) | sluice CPU s | vsftpd CPU s | client (curl/lftp) CPU s, sluice / vsftpd | other processes' CPU s, sluice / vsftpd |"
	echo "|---|---|---|---|---|---|---|"
	for l in stor retr small login; do
		printf '| %s | %s | %s | %s | %s | %s / %s | %s / %s |\n' "$l" \
			"$(runs2 $l sluice)" "$(runs2 $l vsftpd)$([ "$VLOCAL" = 1 ] && echo "; local user: $(runs2 $l vlocal)")" \
			"$(awk -F'\t' -v l=$l -v hz="$HZ" '$1 == l && $2 == "sluice" { printf "%s%.2f", (n++ ? ", " : ""), $4 / hz }' "$RAW")" \
			"$(awk -F'\t' -v l=$l -v hz="$HZ" '$1 == l && $2 == "vsftpd" { printf "%s%.2f", (n++ ? ", " : ""), $4 / hz }' "$RAW")" \
			"$(calc %.2f "$(med $l sluice 5) / $HZ")" "$(calc %.2f "$(med $l vsftpd 5) / $HZ")" \
			"$(calc %.2f "$(med $l sluice 6) / $HZ")" "$(calc %.2f "$(med $l vsftpd 6) / $HZ")"
	done
	echo
	echo "(The last two columns are medians. \"Other processes\" is the machine's busy time less the server's and the client's: other work on the machine and this script.)"
	echo
} | tee "$T/table.md"

if [ "$PROFILE" = 1 ]; then
	{
		for what in stor retr; do
			read -r n ticks <"$T/$what.count"
			echo "### pprof: sluice during back-to-back ${SIZE_MIB} MiB $(echo $what | tr a-z A-Z)s ($n transfers in ${PROF_SECONDS} s; sluice used $(calc %.2f "$ticks / $HZ") s CPU, $(calc %.2f "$ticks / $HZ / ($n * $GIB)") s/GiB)"
			echo
			echo '```'
			sed -n '/^Showing\|^      flat/,$p' "$T/$what.top" | head -30
			echo '```'
			echo
			echo "Cumulative, without the stacks of the login's bcrypt (-ignore=bcrypt):"
			echo
			echo '```'
			sed -n '/^      flat/,$p' "$T/$what.cum" | head -31
			echo '```'
			echo
		done
		if ls "$T"/strace.* >/dev/null 2>&1; then
			echo "### System calls per ${SIZE_MIB} MiB transfer, and per mirror of $NFILES small files (strace -c -f on the server, one transfer or mirror; sluice includes its idle threads)"
			echo
			echo "| server, transfer | calls: top system calls |"
			echo "|---|---|"
			for f in "$T"/strace.*; do
				w=${f#"$T"/strace.}
				printf '| %s | %s |\n' "${w/./, }" "$(awk '$1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" { name = $NF; calls = $4; print calls, name }' "$f" | sort -rn | head -6 | awk '{ printf "%s%s %s", (n++ ? ", " : ""), $1, $2 }')"
			done
			echo
		fi
	} | tee "$T/profile.md"
fi
log "done in $(($(date +%s) - T_START)) s; raw results: $RAW (kept only with KEEP=1)"
