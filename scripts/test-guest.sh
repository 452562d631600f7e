#!/usr/bin/env bash
# The test guest: Debian's stock kernel under QEMU (software emulation, TCG)
# running this host's own userspace, so the krbd tests meet Linux's own rbd
# driver, udev and the real `rbd` command.
#
#   test-guest.sh prepare      download and unpack the kernel package into the
#                              cache (never installed), build the initramfs;
#                              unpack the guest's own packages (below)
#   test-guest.sh start DIR    boot a guest whose state lives in DIR
#   test-guest.sh run DIR [-t SECS] -- CMD [ARG...]
#                              run CMD in the guest, in the caller's directory
#                              and environment; prints its stdout and stderr
#                              and exits with its exit status (124: timeout)
#   test-guest.sh stop DIR     power the guest off (then the PID in its file)
#   test-guest.sh why          why no guest can run here (exit 1), or nothing
#
# What the guest sees: the host's / read-only over 9p with a tmpfs overlay
# for writes (so paths are the same in both), DIR/share read-write (the
# command channel), the kernel's modules, and only the host's 127.0.0.1
# through QEMU's user networking (lo down, eth0 10.0.2.15/32, two routes,
# route_localnet=1).  udev runs with the host's rules, Ceph's among them,
# and with the rule files named in PVS_GUEST_UDEV_RULES (colon list).
# The guest sees the host's files as they were when it booted (9p with
# cache=loose: library loading is the cost under TCG); restart it after a
# rebuild.  Nothing on the host changes: no module, no interface, no package.
# The guest's own packages (GUEST_PACKAGES: tools the host lacks, such as
# thin_check for LVM thin pools) are unpacked into the cache (dpkg -x, never
# installed) and copied into the guest's overlay at boot.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${PVS_GUEST_CACHE:-/var/cache/pvestorage-test-guest}
MODS=(virtio virtio_ring virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
      9pnet 9pnet_virtio netfs fscache 9p overlay)

GUEST_PACKAGES=(thin-provisioning-tools)

die() { echo "test-guest: $*" >&2; exit 1; }

kernel_package() {  # the kernel Debian's linux-image-amd64 points at
  local p
  p=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-6\.1\./ {print $2; exit}')
  [ -n "$p" ] || p=$(apt-cache pkgnames linux-image-6.1.0- 2>/dev/null | grep -E '^linux-image-6\.1\.0-[0-9]+-amd64$' | sort -V | tail -1)
  echo "$p"
}

current() {  # the prepared kernel version, or nothing
  [ -f "$CACHE/current" ] && cat "$CACHE/current" || true
}

why() {
  command -v qemu-system-x86_64 >/dev/null || { echo "qemu-system-x86_64 is not installed (package qemu-system-x86)"; return 1; }
  [ -x /bin/busybox ] || [ -x /usr/bin/busybox ] || { echo "busybox is not installed (package busybox-static)"; return 1; }
  command -v systemd-udevd >/dev/null || [ -x /usr/lib/systemd/systemd-udevd ] || { echo "udev is not installed (package udev)"; return 1; }
  local v; v=$(current)
  [ -n "$v" ] && [ -f "$CACHE/$v/initrd" ] || { echo "no guest kernel prepared in $CACHE (run: bash scripts/test-guest.sh prepare)"; return 1; }
  local p
  for p in "${GUEST_PACKAGES[@]}"; do
    [ -f "$CACHE/pkgs/$p.unpacked" ] || { echo "the guest package $p is not unpacked in $CACHE/pkgs (run: bash scripts/test-guest.sh prepare)"; return 1; }
  done
  return 0
}

# fetch_deb PKG DEST: Debian's package PKG unpacked into DEST (dpkg -x,
# never installed), downloaded into a scratch directory of the cache
fetch_deb() {
  local p=$1 dest=$2 tmp
  mkdir -p "$CACHE"
  tmp=$(mktemp -d "$CACHE/.pkg.XXXXXX")
  chmod 755 "$tmp"
  echo "test-guest: downloading $p for the guest (unpacked into $CACHE, never installed)"
  (cd "$tmp" && apt-get download -q "$p" >/dev/null 2>"$tmp/download.log") ||
    { cat "$tmp/download.log" >&2; rm -rf "$tmp"; die "apt-get download $p failed"; }
  dpkg -x "$tmp"/*.deb "$dest"
  rm -rf "$tmp"
}

# the guest's packages, unpacked into CACHE/pkgs/root (copied into the
# guest's overlay at boot)
prepare_packages() {
  local p
  mkdir -p "$CACHE/pkgs/root"
  for p in "${GUEST_PACKAGES[@]}"; do
    [ -f "$CACHE/pkgs/$p.unpacked" ] && continue
    fetch_deb "$p" "$CACHE/pkgs/root"
    touch "$CACHE/pkgs/$p.unpacked"
  done
}

prepare() {
  prepare_packages
  local pkg v tmp
  pkg=$(kernel_package)
  [ -n "$pkg" ] || die "no linux-image-6.1.0-*-amd64 package is known to apt"
  v=${pkg#linux-image-}
  if [ "$(current)" = "$v" ] && [ -f "$CACHE/$v/initrd" ]; then
    echo "test-guest: kernel $v ready in $CACHE"; return 0
  fi
  mkdir -p "$CACHE"
  tmp=$(mktemp -d "$CACHE/.prepare.XXXXXX")
  chmod 755 "$tmp"
  fetch_deb "$pkg" "$tmp/root"
  depmod -b "$tmp/root" "$v"
  build_initrd "$tmp" "$v"
  rm -rf "${CACHE:?}/$v"
  mv "$tmp" "$CACHE/$v"
  echo "$v" >"$CACHE/current.tmp" && mv "$CACHE/current.tmp" "$CACHE/current"
  echo "test-guest: kernel $v ready in $CACHE"
}

build_initrd() {  # build_initrd DIR VERSION: busybox, the 9p/overlay modules, /init
  local d=$1 v=$2 i=$1/initramfs m
  mkdir -p "$i"/{bin,proc,sys,dev,host,rw,newroot,mods}
  cp "$(command -v busybox)" "$i/bin/busybox"
  : >"$i/modules.list"
  for m in $(modprobe -d "$d/root" -S "$v" -a --show-depends "${MODS[@]}" | awk '$1 == "insmod" {print $2}'); do
    grep -qx "$(basename "$m")" "$i/modules.list" && continue
    cp "$m" "$i/mods/"
    basename "$m" >>"$i/modules.list"
  done
  cp "$ROOT/scripts/test-guest-initramfs.sh" "$i/init"
  chmod 755 "$i/init"
  (cd "$i" && find . | cpio -o -H newc --quiet | gzip -1) >"$d/initrd"
  rm -rf "$i"
}

start() {
  local dir=$1 v
  v=$(current)
  why >/dev/null || die "$(why)"
  mkdir -p "$dir/share"
  dir=$(cd "$dir" && pwd)
  [ -f "$dir/qemu.pid" ] && kill -0 "$(cat "$dir/qemu.pid")" 2>/dev/null && die "a guest already runs in $dir"
  rm -f "$dir/share/"*
  local rules=${PVS_GUEST_UDEV_RULES:-}
  printf '%s\n' "SHARE='$dir/share'" "MODULES='$CACHE/$v/root/lib/modules'" "RULES='$rules'" \
    "INIT='$ROOT/scripts/test-guest-init.sh'" "PKGROOT='$CACHE/pkgs/root'" >"$dir/share/boot.env"
  local t0=$SECONDS
  qemu-system-x86_64 -accel tcg -cpu max -smp "${PVS_GUEST_CPUS:-2}" -m "${PVS_GUEST_MEMORY:-2048}" \
    -kernel "$CACHE/$v/root/boot/vmlinuz-$v" -initrd "$CACHE/$v/initrd" \
    -append "console=ttyS0 panic=-1 quiet pvs.share=$dir/share" -no-reboot \
    -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap" \
    -virtfs "local,path=$dir/share,mount_tag=share,security_model=none,multidevs=remap" \
    -netdev user,id=n0 -device virtio-net-pci,netdev=n0 \
    -display none -monitor none -serial "file:$dir/console.log" \
    -daemonize -pidfile "$dir/qemu.pid" 2>"$dir/qemu.err" ||
    { cat "$dir/qemu.err" >&2; die "qemu did not start"; }
  local pid; pid=$(cat "$dir/qemu.pid")
  for _ in $(seq 1 1200); do
    [ -f "$dir/share/ready" ] && { echo "test-guest: kernel $(cat "$dir/share/ready") up in $((SECONDS - t0)) s (pid $pid)"; return 0; }
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "test-guest: the guest did not come up; its console:" >&2
  tail -30 "$dir/console.log" >&2 || true
  [ -f "$dir/share/init.log" ] && tail -30 "$dir/share/init.log" >&2
  stop "$dir" >/dev/null 2>&1 || true
  return 1
}

run() {
  local dir=$1; shift
  local secs=600
  if [ "${1:-}" = "-t" ]; then secs=$2; shift 2; fi
  [ "${1:-}" = "--" ] && shift
  [ $# -gt 0 ] || die "run: no command"
  [ -f "$dir/share/ready" ] || die "no guest runs in $dir"
  local n="$$.$RANDOM.$SECONDS" s=$dir/share
  {
    export -p | grep -vE '^declare -x (BASHOPTS|SHELLOPTS|BASH_[A-Z_]*|SHLVL|OLDPWD|_)='
    printf 'cd %q || exit 125\n' "$PWD"
    printf 'exec timeout -s KILL %q' "$secs"
    printf ' %q' "$@"
    printf '\n'
  } >"$s/.cmd-$n"
  mv "$s/.cmd-$n" "$s/cmd-$n.sh"
  local limit=$(( (secs + 30) * 10 )) i=0 pid; pid=$(cat "$dir/qemu.pid")
  while [ ! -f "$s/rc-$n" ]; do
    i=$((i + 1))
    if [ $i -gt $limit ] || ! kill -0 "$pid" 2>/dev/null; then
      echo "test-guest: no answer from the guest for: $*" >&2; return 124
    fi
    sleep 0.1
  done
  cat "$s/out-$n"; cat "$s/err-$n" >&2
  local rc; rc=$(cat "$s/rc-$n")
  rm -f "$s/out-$n" "$s/err-$n" "$s/rc-$n" "$s/run-$n.sh"
  [ "$rc" = 137 ] && echo "test-guest: timed out after $secs s: $*" >&2 && rc=124
  return "$rc"
}

stop() {
  local dir=$1 pid
  [ -f "$dir/qemu.pid" ] || return 0
  pid=$(cat "$dir/qemu.pid")
  touch "$dir/share/halt" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill "$pid"; sleep 0.5; kill -9 "$pid" 2>/dev/null || true; fi
  rm -f "$dir/qemu.pid"
}

case "${1:-}" in
  prepare) prepare ;;
  start) [ $# -eq 2 ] || die "usage: start DIR"; start "$2" ;;
  run) [ $# -ge 3 ] || die "usage: run DIR [-t SECS] -- CMD"; shift; run "$@" ;;
  stop) [ $# -eq 2 ] || die "usage: stop DIR"; stop "$2" ;;
  why) why ;;
  *) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
