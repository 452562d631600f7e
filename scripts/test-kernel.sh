#!/usr/bin/env bash
# The real-kernel suites: boot the test guest (scripts/test-guest.sh) and run
# there the tests that need Linux's own rbd driver, udev and the real rbd
# command — Python (python-tests/kernel, the binding and the command) and Perl
# (t/kernel, the XS module; the emulation compared with the kernel) — against
# the test cluster (PVS_TEST_CEPH_ENV, or one of our own).  Ends with one line
# "N passed, M failed"; where no guest can run, says why and counts nothing.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
t0=$SECONDS

if ! why=$(bash scripts/test-guest.sh why); then
  echo "SKIPPED: the real-kernel tests cannot run here: $why"
  echo "0 passed, 0 failed"
  exit 0
fi

GUEST=$(mktemp -d /tmp/pvestorage-guest.XXXXXX)
own_ceph=
cleanup() {
  bash scripts/test-guest.sh stop "$GUEST" >/dev/null 2>&1
  [ -n "$own_ceph" ] && bash scripts/ceph-test-cluster.sh stop "$own_ceph" >/dev/null 2>&1
  rm -rf "$GUEST" ${own_ceph:+"$own_ceph"}
}
trap cleanup EXIT

if [ -z "${PVS_TEST_CEPH_ENV:-}" ] || [ ! -f "$PVS_TEST_CEPH_ENV" ]; then
  own_ceph=$(mktemp -d /tmp/pvestorage-kceph.XXXXXX) && rmdir "$own_ceph"
  bash scripts/ceph-test-cluster.sh start "$own_ceph" || { echo "the Ceph test cluster did not start"; echo "0 passed, 1 failed"; exit 1; }
  export PVS_TEST_CEPH_ENV=$own_ceph/env
fi

rules=$ROOT/build/udev/60-pvestorage-rbd.rules
[ -f "$rules" ] || { echo "$rules is not built (run scripts/build.sh)"; echo "0 passed, 1 failed"; exit 1; }
PVS_GUEST_UDEV_RULES=$rules bash scripts/test-guest.sh start "$GUEST" ||
  { echo "the test guest did not start"; echo "0 passed, 1 failed"; exit 1; }

passed=0 failed=0
in_guest() { bash scripts/test-guest.sh run "$GUEST" -t 1200 -- "$@"; }

echo "-- Python: python-tests/kernel (the binding and the command on the real kernel)"
in_guest env PYTHONPATH="$ROOT/build/bindings/python" /usr/bin/python3 -m pytest -q -rs -p no:cacheprovider \
  python-tests/kernel 2>&1 | tee "$GUEST/pytest.log"
rc=${PIPESTATUS[0]}
line=$(grep -E "[0-9]+ (passed|failed)" "$GUEST/pytest.log" | tail -1)
p=$(echo "$line" | grep -oE "[0-9]+ passed" | grep -oE "[0-9]+")
f=$(echo "$line" | grep -oE "[0-9]+ (failed|errors?)" | awk '{n += $1} END {print n + 0}')
passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
[ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ] && failed=$((failed + 1))
grep -qE "[0-9]+ skipped" "$GUEST/pytest.log" && { echo "!! Python real-kernel tests were skipped in the guest"; failed=$((failed + 1)); }

if ls t/kernel/*.t >/dev/null 2>&1; then
  echo "-- Perl: t/kernel (the XS module on the real kernel; fake-rbd against it)"
  in_guest env PERL_DL_NONLAZY=1 prove -b -v t/kernel/ 2>&1 | tee "$GUEST/prove.log" | grep -vE "^ok "
  rc=${PIPESTATUS[0]}
  tests=$(grep -E "^Files=.*Tests=" "$GUEST/prove.log" | sed -E 's/.*Tests=([0-9]+).*/\1/')
  nfail=$(grep -cE "^not ok " "$GUEST/prove.log")
  passed=$((passed + ${tests:-0} - nfail)); failed=$((failed + nfail))
  [ "$rc" -ne 0 ] && [ "$nfail" -eq 0 ] && failed=$((failed + 1))
  grep -qE "^t/kernel/.*skipped" "$GUEST/prove.log" && { echo "!! Perl real-kernel tests were skipped in the guest"; failed=$((failed + 1)); }
fi

echo "-- the guest's kernel: $(cat "$GUEST/share/ready"), suites in $((SECONDS - t0)) s (boot included)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
