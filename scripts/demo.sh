#!/usr/bin/env bash
# The main job on an embedded default: a demo storage.cfg with a dir storage
# under a temp dir, a Windows guest's disk activated and mapped with hints;
# then the krbd story on a real Ceph test cluster: in the test guest on
# Linux's own rbd driver where QEMU can run, on the emulation otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
PVS=${PVS:-build/pvestorage}

demo=$(mktemp -d /tmp/pvestorage-demo.XXXXXX)
guest=$demo/guest ceph=$demo/ceph
cleanup() {
  bash scripts/test-guest.sh stop "$guest" >/dev/null 2>&1 || true
  bash scripts/ceph-test-cluster.sh stop "$ceph" >/dev/null 2>&1 || true
  rm -rf "$demo"
}
trap cleanup EXIT
cat > "$demo/storage.cfg" <<CFG
dir: demo
	path $demo/store
	content images,iso,backup
CFG
mkdir -p "$demo/store/images/100"
truncate -s 64M "$demo/store/images/100/vm-100-disk-0.raw"

run() { echo "\$ pvestorage $*"; "$PVS" "$@"; echo; }
echo "demo storage.cfg ($demo/storage.cfg):"
sed 's/^/    /' "$demo/storage.cfg"
echo
run hints
run --config "$demo/storage.cfg" --json activate demo:100/vm-100-disk-0.raw \
    --hint guest-is-windows=1 --hint plugin-may-deactivate-volume=1
run --config "$demo/storage.cfg" --json map demo:100/vm-100-disk-0.raw \
    --hints '{"guest-is-windows": true, "plugin-may-deactivate-volume": true}'
run --config "$demo/storage.cfg" path demo:iso/virtio-win.iso
echo "\$ pvestorage verify-hints --hint guest-is-windows=yes   (an invalid hint)"
"$PVS" verify-hints --hint guest-is-windows=yes || echo "(exit $?)"
echo
run --config "$demo/storage.cfg" deactivate demo:100/vm-100-disk-0.raw

echo "== a Windows guest's kernel RBD disk and rxbounce (a real Ceph test cluster on 127.0.0.1)"
bash scripts/ceph-test-cluster.sh start "$ceph" | tail -1
if why=$(bash scripts/test-guest.sh why) &&
   PVS_GUEST_UDEV_RULES=$PWD/build/udev/60-pvestorage-rbd.rules bash scripts/test-guest.sh start "$guest"; then
  echo "on the real kernel: Linux $(cat "$guest/share/ready") in the test guest (QEMU), its own rbd driver and udev"
  echo
  bash scripts/test-guest.sh run "$guest" -- bash scripts/demo-krbd.sh "$ceph/env"
else
  echo "NOTE: no test guest here (${why:-it did not start}): the kernel side of rbd map is EMULATED (fake-rbd)"
  echo
  mkdir -p "$demo/root"
  bash scripts/demo-krbd.sh "$ceph/env" "$demo/root" "$PWD/build/core/tests/fake-rbd"
fi
echo "demo: done"
