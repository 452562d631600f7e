#!/usr/bin/env bash
# The demo's krbd story (run by scripts/demo.sh, in the test guest on the real
# kernel, or on the emulation): a Windows guest's disk mapped plain, as before
# an upgrade, is left alone with Proxmox's warning while the hints do not
# allow a remap, then remapped with rxbounce when they do; `mapped` shows the
# kernel's map options before and after.
#   demo-krbd.sh CEPH_ENV [ROOT FAKE_RBD]   (ROOT and FAKE_RBD: the emulation)
set -euo pipefail
cd "$(dirname "$0")/.."
envfile=$1 root=${2:-/} fake=${3:-}
. "$envfile"
PVS=$PWD/build/pvestorage
opts=()
if [ -n "$fake" ]; then
  opts=(--root "$root" --rbd-command "$fake")
  export FAKE_RBD_ROOT=$root FAKE_RBD_FSID=$CEPH_TEST_FSID
fi
mkdir -p "$root/etc/pve/priv/ceph"
cp "$CEPH_TEST_CONF" "$root/etc/pve/ceph.conf"
cp "$CEPH_TEST_KEYRING" "$root/etc/pve/priv/ceph/ceph.keyring"
printf 'rbd: ceph\n\tpool rbd\n\tkrbd 1\n\tcontent images\n' >"$root/etc/pve/storage.cfg"
rbd=(rbd -c "$root/etc/pve/ceph.conf" --keyring "$root/etc/pve/priv/ceph/ceph.keyring")
image=vm-100-disk-0
"${rbd[@]}" rm --no-progress "rbd/$image" >/dev/null 2>&1 || true
"${rbd[@]}" create --size 64M --image-feature layering,exclusive-lock,object-map,fast-diff "rbd/$image"

show() { echo "\$ pvestorage $*"; "$PVS" "${opts[@]}" "$@" 2>&1 || echo "(exit $?)"; echo; }
echo "storage.cfg:"; sed 's/^/    /' "$root/etc/pve/storage.cfg"; echo
echo "\$ rbd map rbd/$image        # mapped plain, as before the upgrade"
"${fake:-rbd}" -c "$root/etc/pve/ceph.conf" --keyring "$root/etc/pve/priv/ceph/ceph.keyring" -p rbd map "$image"
echo
show mapped
show map "ceph:$image" --hint guest-is-windows=1 --hint plugin-may-deactivate-volume=0
show mapped
show map "ceph:$image" --hint guest-is-windows=1 --hint plugin-may-deactivate-volume=1
show mapped
show unmap "ceph:$image"
"${rbd[@]}" rm --no-progress "rbd/$image" >/dev/null
