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
if [ ! -x build/pvestorage ] || [ ! -x build/core/tests/fake-rbd ]; then echo "run scripts/build.sh first"; exit 1; fi
images=()
for i in $(seq 0 $((n - 1))); do images+=("vm-$vmid-disk-$i"); done
image_features=layering,exclusive-lock,object-map,fast-diff
# shellcheck source=bench/node.sh
source bench/node.sh
printf 'rbd: ceph\n\tpool rbd\n\tkrbd 1\n\tcontent images\n' > "$root/etc/pve/storage.cfg"
mkdir -p "$root/etc/pve/qemu-server"
{
  echo "ostype: win11"
  for i in $(seq 0 $((n - 1))); do echo "scsi$i: ceph:${images[$i]},discard=on,size=8M"; done
} > "$root/etc/pve/qemu-server/$vmid.conf"
export FAKE_RBD_ROOT=$root FAKE_RBD_FSID=$CEPH_TEST_FSID FAKE_RBD_CHECK_IMAGE=0
fake=$PWD/build/core/tests/fake-rbd
ms() { echo $(( $(date +%s%N) / 1000000 )); }
fresh_kernel() { rm -rf "${root:?}/dev" "${root:?}/sys"; }

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
for _ in 1 2 3; do
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
