#!/usr/bin/env bash
# Start a test cluster (unless PVS_TEST_CEPH_ENV names one), create N images,
# run build/bench_rbd, clean up.   bash bench/run_bench_rbd.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-50}
images=()
for i in $(seq 0 $((n - 1))); do images+=("vm-$((1000 + i))-disk-0"); done
# shellcheck source=bench/node.sh
source bench/node.sh
FAKE_RBD_ROOT=$root FAKE_RBD_FSID=$CEPH_TEST_FSID FAKE_RBD_CHECK_IMAGE=0 \
  build/bench_rbd "$root" "$PWD/build/core/tests/fake-rbd" "$CEPH_TEST_FSID" "$n"
