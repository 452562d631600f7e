#!/usr/bin/env bash
# Install what pvestorage needs to build and test, from Debian's packages.
# Idempotent: installs only what is missing; safe without a terminal (CI).
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  libjansson-dev libcmocka-dev
  librbd-dev librados-dev
  python3-dev python3-pytest python3-jsonschema
  valgrind
  clang libclang-rt-14-dev
  ceph-mon ceph-osd ceph-common
  python3-pip python3-setuptools python3-wheel
  debhelper dh-python lintian
  bash-completion
  qemu-system-x86 busybox-static cpio udev kmod
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

guest() {  # the test guest's kernel: downloaded and unpacked, never installed
  bash "$(dirname "$0")/test-guest.sh" prepare ||
    echo "install-deps: WARNING: no test guest kernel; the real-kernel tests will be skipped" >&2
}

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  guest
  exit 0
fi

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
guest
