#!/usr/bin/env bash
# A 16-disk Windows guest's start on the test cluster (kernel maps emulated
# by fake-rbd): `pvestorage activate --vm VMID --may-deactivate` -- the
# guest's configuration, qemu-server's hints, one cluster connection, every
# image's features read at once, then each map with rxbounce -- against the
# same steps the upstream way: one `rbd info --format json` process per
# image, then one `rbd map --options rxbounce` per image.  The images carry
# the features a 6.1 kernel supports, so neither flow updates any.  Best of 3 each,
# measured in one run; the ratio is the claim.
#   bash bench/bench_vm_start.sh [DISKS]     (starts and stops a cluster
#   unless PVS_TEST_CEPH_ENV names one; needs root and scripts/build.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-16}
vmid=4242
[ "$(id -u)" = 0 ] || { echo "needs root (mknod of the emulated /dev/rbdN)"; exit 1; }
[ -x build/pvestorage ] && [ -x build/core/tests/fake-rbd ] || { echo "run scripts/build.sh first"; exit 1; }
own=
env=${PVS_TEST_CEPH_ENV:-}
if [ -z "$env" ] || [ ! -f "$env" ]; then
  own=$(mktemp -d /tmp/pvs-bench-ceph.XXXXXX); rmdir "$own"
  env=$(bash scripts/ceph-fixture.sh start "$own")
fi
# shellcheck disable=SC1090
source "$env"
root=$(mktemp -d /dev/shm/pvs-bench-vm.XXXXXX 2>/dev/null || mktemp -d /tmp/pvs-bench-vm.XXXXXX)
images=()
for i in $(seq 0 $((n - 1))); do images+=("vm-$vmid-disk-$i"); done
cleanup() {
  for img in "${images[@]}"; do rbd -c "$CEPH_TEST_CONF" rm --no-progress "rbd/$img" >/dev/null 2>&1 || true; done
  rm -rf "$root"
  [ -z "$own" ] || bash scripts/ceph-fixture.sh stop "$own"
}
trap cleanup EXIT
mkdir -p "$root/etc/pve/priv/ceph" "$root/etc/pve/qemu-server"
conf=$root/etc/pve/ceph.conf keyring=$root/etc/pve/priv/ceph/ceph.keyring
cp "$CEPH_TEST_CONF" "$conf"
cp "$CEPH_TEST_KEYRING" "$keyring"
printf 'rbd: ceph\n\tpool rbd\n\tkrbd 1\n\tcontent images\n' > "$root/etc/pve/storage.cfg"
{
  echo "ostype: win11"
  for i in $(seq 0 $((n - 1))); do echo "scsi$i: ceph:${images[$i]},discard=on,size=8M"; done
} > "$root/etc/pve/qemu-server/$vmid.conf"
for img in "${images[@]}"; do
  rbd -c "$CEPH_TEST_CONF" rm --no-progress "rbd/$img" >/dev/null 2>&1 || true
  rbd -c "$CEPH_TEST_CONF" create --size 8M --image-feature layering,exclusive-lock,object-map,fast-diff "rbd/$img"
done
export FAKE_RBD_ROOT=$root FAKE_RBD_FSID=$CEPH_TEST_FSID FAKE_RBD_CHECK_IMAGE=0
fake=$PWD/build/core/tests/fake-rbd
ms() { echo $(( $(date +%s%N) / 1000000 )); }
fresh_kernel() { rm -rf "$root/dev" "$root/sys"; }

ours() {
  build/pvestorage --root "$root" --rbd-command "$fake" --kernel-version 6.1 --quiet \
    activate --vm "$vmid" --may-deactivate
}
upstream() {
  local c=(-p rbd -c "$conf" --auth_supported cephx -n client.admin --keyring "$keyring")
  for img in "${images[@]}"; do rbd "${c[@]}" info --format json "$img" >/dev/null; done
  for img in "${images[@]}"; do "$fake" "${c[@]}" map "$img" --options rxbounce >/dev/null; done
}
best_ours=999999 best_up=999999
for round in 1 2 3; do
  fresh_kernel; t=$(ms); ours; d=$(( $(ms) - t )); [ "$d" -lt "$best_ours" ] && best_ours=$d
  fresh_kernel; t=$(ms); upstream; d=$(( $(ms) - t )); [ "$d" -lt "$best_up" ] && best_up=$d
done
# the flows did the same thing: every disk mapped with rxbounce
fresh_kernel; ours
mapped=$(grep -l rxbounce "$root"/sys/devices/rbd/*/config_info | wc -l)
[ "$mapped" -eq "$n" ] || { echo "expected $n devices with rxbounce, found $mapped"; exit 1; }
echo "start of a $n-disk Windows guest (krbd, rxbounce), best of 3:"
printf '  upstream way (rbd info + rbd map per image): %6d ms\n' "$best_up"
printf '  pvestorage activate --vm:                    %6d ms\n' "$best_ours"
awk -v u="$best_up" -v o="$best_ours" 'BEGIN { printf "  ratio: %.1fx faster\n", u / (o > 0 ? o : 1) }'
