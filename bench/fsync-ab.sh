#!/usr/bin/env bash
# bench/fsync-ab.sh BIN: 1000 × 4 KiB lftp mirror -R into sluice DIRECT ON, data dir on tmpfs and on ext4; 3 runs each.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
BIN=$1
SRC=$(mktemp -d /dev/shm/src.XXXX); head -c $((1000*4096)) /dev/urandom | split -a 5 -d -b 4096 - "$SRC/s"
for where in /dev/shm /var/tmp /dev/shm /var/tmp /dev/shm /var/tmp; do
  D=$(mktemp -d $where/fsab.XXXX); P=$(free_port)
  "$BIN" serve --data "$D" --ssh-addr "" --ftp-addr 127.0.0.1:$P >/dev/null 2>&1 & SP=$!; wait_listen $P $SP; PW=$(cat $D/initial-root-password); kill $SP; wait $SP || true
  python3 - "$D/sluice.toml" <<'PY'
import sys
p=sys.argv[1]; s=open(p).read()
s=s.replace('[ftp]\n','[ftp]\ndirect = true\n',1) if '[ftp]' in s else s+'\n[ftp]\ndirect = true\n'
open(p,'w').write(s)
PY
  "$BIN" serve --data "$D" --ssh-addr "" --ftp-addr 127.0.0.1:$P >/dev/null 2>&1 & SP=$!; wait_listen $P $SP
  c0=$(cpu_tree $SP); t0=$(now)
  lftp -u "root,$PW" -p $P -e "set ftp:ssl-allow no; set cmd:fail-exit yes; cd dsk; mirror -R --no-perms --no-umask $SRC .; quit" 127.0.0.1 >/dev/null
  t1=$(now); c1=$(cpu_tree $SP)
  n=$(ls $D/dsk | wc -l)
  echo "$where files=$n ms/file=$(calc %.3f "($t1-$t0)*1000/1000") cpu_ms/file=$(calc %.3f "($c1-$c0)*10/1000")"
  kill $SP; wait $SP || true; rm -rf "$D"
done
rm -rf "$SRC"
