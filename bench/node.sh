# shellcheck shell=bash disable=SC2154  # images comes from the script that sources this
# bench/node.sh - sourced by the cluster benchmarks, with images=(...) set
# (and image_features, if the images need more than the default): needs
# root; uses the cluster PVS_TEST_CEPH_ENV names, or starts one and stops it
# at exit; makes $root, an emulated node on tmpfs (/dev and /sys are
# in-memory filesystems on a real node) holding the cluster's ceph.conf
# ($conf) and keyring ($keyring); (re)creates the images, 8 MiB each, and
# removes them at exit.
[ ${#images[@]} -gt 0 ] || { echo "bench/node.sh: set images=(...) first"; exit 1; }
[ "$(id -u)" = 0 ] || { echo "needs root (mknod of the emulated /dev/rbdN)"; exit 1; }
own=
env=${PVS_TEST_CEPH_ENV:-}
if [ -z "$env" ] || [ ! -f "$env" ]; then
  own=$(mktemp -d /tmp/pvs-bench-ceph.XXXXXX); rmdir "$own"
  env=$(bash scripts/ceph-fixture.sh start "$own")
fi
# shellcheck disable=SC1090
source "$env"
root=$(mktemp -d /dev/shm/pvs-bench-root.XXXXXX 2>/dev/null || mktemp -d /tmp/pvs-bench-root.XXXXXX)
bench_cleanup() {
  for img in "${images[@]}"; do rbd -c "$CEPH_TEST_CONF" rm --no-progress "rbd/$img" >/dev/null 2>&1 || true; done
  rm -rf "$root"
  [ -z "$own" ] || bash scripts/ceph-fixture.sh stop "$own"
}
trap bench_cleanup EXIT
conf=$root/etc/pve/ceph.conf keyring=$root/etc/pve/priv/ceph/ceph.keyring
mkdir -p "$root/etc/pve/priv/ceph"
cp "$CEPH_TEST_CONF" "$conf"
cp "$CEPH_TEST_KEYRING" "$keyring"
for img in "${images[@]}"; do
  rbd -c "$CEPH_TEST_CONF" rm --no-progress "rbd/$img" >/dev/null 2>&1 || true
  rbd -c "$CEPH_TEST_CONF" create --size 8M ${image_features:+--image-feature "$image_features"} "rbd/$img"
done
