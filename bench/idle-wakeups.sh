#!/usr/bin/env bash
# bench/idle-wakeups.sh — what an idle sluice server costs: CPU time and
# context switches (each one a thread waking up) over a quiet interval,
# with GODEBUG=schedtrace=2147483647 (the Go runtime's sysmon kept out of
# its deep sleep; docs/operations.md) and with GODEBUG=schedtrace=0 (the
# runtime's default), in alternating rounds. docs/performance.md
# (2026-12-08).
#
# Usage: bench/idle-wakeups.sh [ROUNDS] [SECONDS]    (defaults 2 and 60)
#
# Each round starts a fresh server on a tmpfs data directory (SSH on a
# free loopback port, FTP off), waits 5 s for the start to settle, then
# reads the process's utime+stime (/proc/PID/stat) and the voluntary and
# involuntary context switches of all its threads (/proc/PID/task/*/status)
# before and after SECONDS with no client.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ROUNDS=${1:-2}
SECS=${2:-60}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HZ=$(getconf CLK_TCK)
T=$(mktemp -d /dev/shm/sluice-idle.XXXXXX)
PID=
cleanup() {
	if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
	rm -rf "$T"
}
trap cleanup EXIT

(cd "$ROOT" && go build -o "$T/sluice" ./cmd/sluice) || die "build failed"
REV=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
switches() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ { s += $2 } END { print s + 0 }'; }
threads() { ls /proc/"$1"/task | wc -l; }

echo "sluice built from commit $REV; $(nproc) CPUs ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)); ${SECS} s idle per round."
echo
echo "| round | GODEBUG in sluice's environment | server CPU ms | context switches per second | threads |"
echo "|---|---|---:|---:|---:|"
for r in $(seq "$ROUNDS"); do
	for mode in awake schedtrace=0; do
		D=$T/data.$r.$mode
		PORT=$(free_port)
		if [ "$mode" = awake ]; then
			GODEBUG=schedtrace=2147483647 "$T/sluice" serve --data "$D" --ssh-addr "127.0.0.1:$PORT" --ftp-addr "" >"$T/out" 2>"$T/log" &
		else
			GODEBUG=schedtrace=0 "$T/sluice" serve --data "$D" --ssh-addr "127.0.0.1:$PORT" --ftp-addr "" >"$T/out" 2>"$T/log" &
		fi
		PID=$!
		wait_listen "$PORT" "$PID" || { cat "$T/log" >&2; die "sluice did not start"; }
		sleep 5
		env_now=$(tr '\0' '\n' <"/proc/$PID/environ" | sed -n 's/^GODEBUG=//p')
		t0=$(ticks "$PID") s0=$(switches "$PID")
		sleep "$SECS"
		t1=$(ticks "$PID") s1=$(switches "$PID")
		echo "| $r | ${env_now:-(none)} | $(calc %.0f "($t1 - $t0) * 1000 / $HZ") | $(calc %.1f "($s1 - $s0) / $SECS") | $(threads "$PID") |"
		kill "$PID"
		wait "$PID" 2>/dev/null || true
		PID=
	done
done
