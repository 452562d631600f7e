#!/usr/bin/env bash
# A real single-node Ceph cluster for the tests: one monitor and one OSD on
# memstore, cephx on, bound to 127.0.0.1 on free ports, everything under DIR.
#
#   scripts/ceph-test-cluster.sh start DIR   # boots it, writes DIR/env
#   scripts/ceph-test-cluster.sh stop DIR    # stops it by the PIDs in DIR/*.pid
#
# DIR/env (shell syntax) gives CEPH_TEST_CONF, CEPH_TEST_KEYRING (client.admin),
# CEPH_TEST_FSID, CEPH_TEST_MON_HOST, CEPH_TEST_POOL.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }

stop() {
  local pidfile pid
  for pidfile in "$dir"/run/*.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  for pidfile in "$dir"/run/*.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

free_port() {  # a free TCP port on 127.0.0.1
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start() {
  if [ -e "$dir/ceph.conf" ]; then
    echo "$0: $dir already holds a cluster; use a new directory" >&2
    return 2
  fi
  mkdir -p "$dir"/{run,log,mon,osd}
  dir=$(cd "$dir" && pwd)
  local fsid v2 v1 conf=$dir/ceph.conf
  fsid=$(cat /proc/sys/kernel/random/uuid)
  v2=$(free_port); v1=$(free_port)
  while [ "$v1" = "$v2" ]; do v1=$(free_port); done
  local mon_host="[v2:127.0.0.1:$v2,v1:127.0.0.1:$v1]"

  cat > "$conf" <<CONF
[global]
fsid = $fsid
mon host = $mon_host
mon initial members = a
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
run dir = $dir/run
log file = $dir/log/\$cluster-\$name.log
pid file = $dir/run/\$name.pid
keyring = $dir/\$cluster.\$name.keyring
osd pool default size = 1
osd pool default min size = 1
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
ms bind ipv4 = true
ms bind ipv6 = false
client mount timeout = 10
rados mon op timeout = 10
rados osd op timeout = 10

[mon]
admin socket = $dir/run/\$cluster-\$name.asok
mon data = $dir/mon/\$cluster-\$id
keyring = $dir/mon/\$cluster-\$id/keyring

[osd]
admin socket = $dir/run/\$cluster-\$name.asok
osd objectstore = memstore
memstore device bytes = 1073741824
osd data = $dir/osd/\$cluster-\$id
keyring = $dir/osd/\$cluster-\$id/keyring
osd max object name len = 256
osd max object namespace len = 64
CONF

  ceph-authtool --create-keyring "$dir/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool --create-keyring "$dir/ceph.client.admin.keyring" --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' >/dev/null
  ceph-authtool "$dir/mon.keyring" --import-keyring "$dir/ceph.client.admin.keyring" >/dev/null
  monmaptool --create --fsid "$fsid" --addv a "$mon_host" "$dir/monmap" >/dev/null
  ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/mon.keyring" \
    >"$dir/log/mon-mkfs.out" 2>&1 || { cat "$dir/log/mon-mkfs.out" >&2; return 1; }
  ceph-mon -c "$conf" -i a >"$dir/log/mon.out" 2>&1

  local c=(timeout 60 ceph -c "$conf" --connect-timeout 30)
  "${c[@]}" -s >/dev/null   # waits for the monitor

  mkdir -p "$dir/osd/ceph-0"
  local osd_uuid; osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  "${c[@]}" osd new "$osd_uuid" >/dev/null
  ceph-osd -c "$conf" -i 0 --mkfs --mkkey --osd-uuid "$osd_uuid" --no-mon-config 2>"$dir/log/osd-mkfs.err" \
    || { cat "$dir/log/osd-mkfs.err" >&2; return 1; }
  "${c[@]}" auth add osd.0 osd 'allow *' mon 'allow profile osd' -i "$dir/osd/ceph-0/keyring" >/dev/null 2>&1
  "${c[@]}" osd crush add-bucket localhost host >/dev/null 2>&1
  "${c[@]}" osd crush move localhost root=default >/dev/null 2>&1
  "${c[@]}" osd crush add osd.0 1.0 host=localhost >/dev/null 2>&1
  ceph-osd -c "$conf" -i 0 >"$dir/log/osd.out" 2>&1

  local up=0
  for _ in $(seq 150); do
    "${c[@]}" osd stat 2>/dev/null | grep -q "1 up" && { up=1; break; }
    sleep 0.2
  done
  [ "$up" = 1 ] || { echo "$0: the OSD did not come up" >&2; return 1; }
  "${c[@]}" osd pool create rbd 8 >/dev/null 2>&1
  rbd -c "$conf" pool init rbd
  "${c[@]}" osd pool create rbd2 8 >/dev/null 2>&1
  rbd -c "$conf" pool init rbd2

  cat > "$dir/env" <<ENV
CEPH_TEST_DIR=$dir
CEPH_TEST_CONF=$conf
CEPH_TEST_KEYRING=$dir/ceph.client.admin.keyring
CEPH_TEST_FSID=$fsid
CEPH_TEST_MON_HOST='$mon_host'
CEPH_TEST_POOL=rbd
ENV
  echo "ceph test cluster $fsid up at $mon_host ($dir)"
}

case $cmd in
  start) start || { rc=$?; [ "$rc" = 2 ] || stop; exit 1; } ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
