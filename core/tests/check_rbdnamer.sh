#!/usr/bin/env bash
# The udev namer of /dev/rbd-pve (build/udev/rbdnamer) on sysfs trees shaped
# as Linux 6.1's: the names Proxmox's rule gives, and no name (exit 1, a
# message naming the culprit, nothing on stdout) for what it cannot name.
set -u
namer=$1/udev/rbdnamer rules=$1/udev/60-pvestorage-rbd.rules
t=$(mktemp -d) && trap 'rm -rf "$t"' EXIT
fails=0
dev() {  # dev ID FSID POOL NS NAME SNAP
  local d=$t/sys/devices/rbd/$1
  mkdir -p "$d"
  printf '%s\n' "$2" >"$d/cluster_fsid"; printf '%s\n' "$3" >"$d/pool"
  printf '%s\n' "$4" >"$d/pool_ns"; printf '%s\n' "$5" >"$d/name"; printf '%s\n' "$6" >"$d/current_snap"
}
check() {  # check WANT_RC WANT_STDOUT WANT_STDERR_PATTERN ARGS...
  local rc out err
  out=$("$namer" "${@:4}" 2>"$t/err"); rc=$?; err=$(cat "$t/err")
  if [ "$rc" != "$1" ] || [ "$out" != "$2" ] || ! [[ "$err" =~ $3 ]]; then
    echo "FAIL: rbdnamer ${*:4}: exit $rc, stdout '$out', stderr '$err' (wanted $1, '$2', /$3/)"; fails=$((fails + 1))
  else
    echo "ok: rbdnamer ${*:4} -> exit $rc '$out'"
  fi
}
F=1744b1b1-522a-409c-8f06-8782c3bb78e7
dev 0 $F rbd "" vm-100-disk-0 -
dev 3 $F rbd ns1 vm-101-disk-1 -
dev 16 $F pool2 "" vm-100-disk-0 snap1
check 0 "$F/rbd/vm-100-disk-0" '^$' --root "$t" rbd0
check 0 "$F/rbd/vm-100-disk-0" '^$' --root "$t" rbd0p1   # the rule adds -part1
check 0 "$F/rbd/ns1/vm-101-disk-1" '^$' --root "$t" rbd3
check 0 "$F/pool2/vm-100-disk-0@snap1" '^$' --root "$t" rbd16
rm "$t/sys/devices/rbd/0/pool_ns"                          # a kernel before namespaces
check 0 "$F/rbd/vm-100-disk-0" '^$' --root "$t" rbd0
check 1 "" "no such device or attribute cluster_fsid" --root "$t" rbd7
check 1 "" "'sda' is not a kernel rbd device name" --root "$t" sda
check 1 "" "'rbd' is not a kernel rbd device name" --root "$t" rbd
check 1 "" "'rbd1p' is not a kernel rbd device name" --root "$t" rbd1p
check 1 "" "'rbd1x' is not a kernel rbd device name" --root "$t" rbd1x
check 2 "" "^usage:" --root "$t"
dev 4 $F rbd "" "vm 1" -;         check 1 "" "name holds white space" --root "$t" rbd4
dev 5 $F rbd "" "a/b" -;          check 1 "" "name holds a '/'" --root "$t" rbd5
dev 6 $F "" "" vm-1-disk-0 -;     check 1 "" "pool is empty" --root "$t" rbd6
dev 8 $F rbd "" vm-1-disk-0 -; printf 'vm\0x\n' >"$t/sys/devices/rbd/8/name"
check 1 "" "holds a NUL byte" --root "$t" rbd8
dev 9 $F rbd "" vm-1-disk-0 -; head -c 5000 /dev/zero | tr '\0' a >"$t/sys/devices/rbd/9/name"
check 1 "" "value too long" --root "$t" rbd9
dev 10 $F rbd "" vm-1-disk-0 -; rm "$t/sys/devices/rbd/10/name"; mkfifo "$t/sys/devices/rbd/10/name"
check 1 "" "not a regular file" --root "$t" rbd10
dev 11 $F rbd "" vm-1-disk-0 -; rm "$t/sys/devices/rbd/11/pool"; ln -s /etc/passwd "$t/sys/devices/rbd/11/pool"
check 1 "" "pool" --root "$t" rbd11
# the rule of the build tree calls this namer; the installed one steps aside for Proxmox's
grep -q "PROGRAM=\"$namer %k\", SYMLINK+=\"rbd-pve/%c\"" "$rules" || { echo "FAIL: $rules does not call $namer"; fails=$((fails + 1)); }
grep -q 'TEST=="/usr/lib/udev/rules.d/50-rbd-pve.rules", GOTO="pvestorage_rbd_end"' "$rules" ||
  { echo "FAIL: $rules does not step aside for Proxmox's rule"; fails=$((fails + 1)); }
[ "$fails" -eq 0 ]
