# bench/lib.sh — helpers shared by the benchmark scripts (bench/ftp.sh,
# bench/sftp.sh): logging, free loopback ports, waiting for a listener,
# time and arithmetic, CPU and memory of process trees read from /proc,
# and setting a key in sluice.toml. Sourced, never run.

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# free_port prints a TCP port on 127.0.0.1 that nothing listens on, below
# the ephemeral range so that no outgoing connection takes it meanwhile,
# and outside the ranges free_range has handed out.
TAKEN=()
in_ranges() {
	local r
	for r in ${TAKEN[@]+"${TAKEN[@]}"}; do [ "$1" -ge "${r%-*}" ] && [ "$1" -le "${r#*-}" ] && return 0; done
	return 1
}
free_port() {
	local p
	for _ in $(seq 100); do
		p=$((20000 + RANDOM % 12000))
		if [ -z "$(ss -Htln "sport = :$p")" ] && ! in_ranges "$p"; then echo "$p"; return; fi
	done
	die "no free port"
}
# free_range N prints the first port of N consecutive free ports (passive
# ranges), below the ephemeral range and clear of ranges already taken.
free_range() {
	local b n=$1
	for _ in $(seq 100); do
		b=$((20000 + RANDOM % (12000 - n)))
		if [ -z "$(ss -Htln "( sport >= :$b and sport <= :$((b + n - 1)) )")" ] && ! in_ranges "$b" && ! in_ranges $((b + n - 1)); then
			TAKEN+=("$b-$((b + n - 1))")
			echo "$b"
			return
		fi
	done
	die "no free port range"
}

wait_listen() { # port pid
	for _ in $(seq 200); do
		[ -n "$(ss -Htln "sport = :$1")" ] && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }

# busy prints the machine's busy CPU time in ticks (/proc/stat: all but
# idle and iowait); client_cpu the CPU time of the calling script's reaped
# children (the clients it ran).
busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
client_cpu() { awk '{ print $16 + $17 }' "/proc/$$/stat"; }

# tree_pids PID prints PID and all its descendants; cpu_tree PID their CPU
# ticks, living and reaped (utime, stime, cutime, cstime); mem_kb PID
# "pss rss nprocs", the sums of PSS and RSS (kB) over the tree.
tree_pids() {
	local p
	echo "$1"
	for p in $(pgrep -P "$1"); do tree_pids "$p"; done
}
cpu_tree() {
	local p t=0 v
	for p in $(tree_pids "$1"); do
		v=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$p/stat" 2>/dev/null) || continue
		t=$((t + ${v:-0}))
	done
	echo "$t"
}
mem_kb() {
	local p pss=0 rss=0 n=0 a b
	for p in $(tree_pids "$1"); do
		a=$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null) || continue
		b=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null) || continue
		[ -n "$a" ] && [ -n "$b" ] || continue
		pss=$((pss + a)) rss=$((rss + b)) n=$((n + 1))
	done
	echo "$pss $rss $n"
}

# toml_set FILE SECTION KEY VALUE: set KEY in [SECTION], replacing the key
# if the section has it, adding it (and the section) otherwise. The first
# run's sluice.toml already has an [ftp] table, and TOML forbids a second.
toml_set() {
	awk -v sec="[$2]" -v key="$3" -v val="$4" '
		function emit() { print key " = " val; done = 1 }
		{ t = $0; gsub(/^[ \t]+|[ \t]+$/, "", t) }
		t ~ /^\[/ { if (in_sec && !done) emit(); in_sec = (t == sec); print; next }
		in_sec && !done && t ~ ("^" key "[ \t]*=") { emit(); next }
		{ print }
		END { if (!done) { if (!in_sec) print sec; emit() } }' "$1" >"$1.tmp"
	mv "$1.tmp" "$1"
}
