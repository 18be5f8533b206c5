#!/usr/bin/env bash
# bench/mem-faults.sh [RUNS]: page faults and server CPU of one 512 MiB
# OpenSSH sftp put into /mem (the RAM staging buffer) and into /dsk (tmpfs),
# alternating, RUNS rounds [3]. Each upload's file is removed and the server
# given 2 s to hand the freed chunks back (mem's returner) before the next.
# Faults are counted by perf stat on the sluice process.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RUNS=${1:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HZ=$(getconf CLK_TCK)
T=$(mktemp -d /dev/shm/sluice-faults.XXXXXX)
PID=
cleanup() { [ -z "$PID" ] || kill "$PID" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
(cd "$ROOT" && go build -o "$T/sluice" ./cmd/sluice)
ssh-keygen -q -t ed25519 -N '' -C bench -f "$T/id"
SD=$T/data
mkdir -p "$SD/dsk" "$SD/bio"
printf 'data_dir = "."\n\n[mem]\nmax_bytes = 1073741824\n' >"$SD/sluice.toml"
"$T/sluice" user add root --data "$SD" --level supervisor --authorized-key "$T/id.pub" >/dev/null
P=$(free_port)
"$T/sluice" serve --data "$SD" --ssh-addr "127.0.0.1:$P" >"$T/log" 2>&1 &
PID=$!
wait_listen "$P" "$PID"
head -c $((512 << 20)) /dev/urandom >"$T/src"
sftp_b() { sftp -q -b - -i "$T/id" -P "$P" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null root@127.0.0.1 >/dev/null; }
cpu() { awk '{ print $14 + $15 }' "/proc/$PID/stat"; }
echo "| round | target | wall s | server CPU s | page faults of the server |"
echo "|---:|---|---:|---:|---:|"
for i in $(seq "$RUNS"); do
	for dst in /mem /dsk; do
		c0=$(cpu)
		perf stat -e page-faults -p "$PID" -o "$T/stat" 2>/dev/null &
		pp=$!
		sleep 0.3
		t0=$(now)
		echo "put $T/src $dst/big" | sftp_b
		t1=$(now)
		kill -INT "$pp"
		wait "$pp" || true
		c1=$(cpu)
		echo "| $i | $dst | $(calc %.2f "$t1 - $t0") | $(calc %.2f "($c1 - $c0) / $HZ") | $(awk '/page-faults/ { gsub(",", "", $1); print $1 }' "$T/stat") |"
		echo "rm $dst/big" | sftp_b
		sleep 2
	done
done
