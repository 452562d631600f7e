#!/usr/bin/env bash
# Test fixture around ceph-test-cluster.sh for the suites:
#   ceph-fixture.sh start DIR   prints the env file to use
#   ceph-fixture.sh stop DIR
# When PVS_TEST_CEPH_ENV names a running cluster's env file (scripts/test.sh
# starts one for all suites), start prints it and stop leaves it alone;
# otherwise a cluster is started in DIR and stopped (and DIR removed) at stop.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }

if [ -n "${PVS_TEST_CEPH_ENV:-}" ] && [ -f "$PVS_TEST_CEPH_ENV" ]; then
  [ "$cmd" = start ] && echo "$PVS_TEST_CEPH_ENV"
  exit 0
fi

case $cmd in
  start)
    [ -d "$dir" ] && bash "$here/ceph-test-cluster.sh" stop "$dir" && rm -rf "$dir"
    bash "$here/ceph-test-cluster.sh" start "$dir" >&2
    echo "$dir/env"
    ;;
  stop)
    [ -d "$dir" ] || exit 0
    bash "$here/ceph-test-cluster.sh" stop "$dir"
    rm -rf "$dir"
    ;;
  *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
