#!/usr/bin/env bash
# Start a test cluster (unless PVS_TEST_CEPH_ENV names one), create N images,
# run build/bench_rbd, clean up.   bash bench/run_bench_rbd.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-50}
[ "$(id -u)" = 0 ] || { echo "needs root (mknod of the emulated /dev/rbdN)"; exit 1; }
own=
env=${PVS_TEST_CEPH_ENV:-}
if [ -z "$env" ] || [ ! -f "$env" ]; then
  own=$(mktemp -d /tmp/pvs-bench-ceph.XXXXXX); rmdir "$own"
  env=$(bash scripts/ceph-fixture.sh start "$own")
fi
# /dev and /sys are in-memory filesystems on a real node: emulate them on tmpfs
root=$(mktemp -d /dev/shm/pvs-bench-root.XXXXXX 2>/dev/null || mktemp -d /tmp/pvs-bench-root.XXXXXX)
cleanup() {
  for i in $(seq 0 $((n - 1))); do rbd -c "$CEPH_TEST_CONF" rm --no-progress "rbd/vm-$((1000 + i))-disk-0" >/dev/null 2>&1 || true; done
  rm -rf "$root"
  [ -z "$own" ] || bash scripts/ceph-fixture.sh stop "$own"
}
trap cleanup EXIT
# shellcheck disable=SC1090
source "$env"
mkdir -p "$root/etc/pve/priv/ceph"
cp "$CEPH_TEST_CONF" "$root/etc/pve/ceph.conf"
cp "$CEPH_TEST_KEYRING" "$root/etc/pve/priv/ceph/ceph.keyring"
for i in $(seq 0 $((n - 1))); do
  rbd -c "$CEPH_TEST_CONF" rm --no-progress "rbd/vm-$((1000 + i))-disk-0" >/dev/null 2>&1 || true
  rbd -c "$CEPH_TEST_CONF" create --size 8M "rbd/vm-$((1000 + i))-disk-0"
done
FAKE_RBD_ROOT=$root FAKE_RBD_FSID=$CEPH_TEST_FSID FAKE_RBD_CHECK_IMAGE=0 \
  build/bench_rbd "$root" "$PWD/build/core/tests/fake-rbd" "$CEPH_TEST_FSID" "$n"
