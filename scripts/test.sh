#!/usr/bin/env bash
# README command 2: install what is missing, build with -Werror, run every
# suite: C (ctest, then again under ASan+UBSan), the fuzz targets (30 s
# each), Perl (prove), the Perl distribution, the packages (pip, Debian),
# Python (pytest), then the Perl and Python suites under valgrind.  Ends
# with one summary line "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
LOG=$(mktemp -d /tmp/pvestorage-test.XXXXXX)

bash scripts/install-deps.sh || exit 1
PVS_WERROR=1 bash scripts/build.sh || { echo "build failed"; exit 1; }

# one real Ceph test cluster for every suite (they start their own otherwise)
CEPH_DIR=$(mktemp -d /tmp/pvestorage-ceph.XXXXXX)
rmdir "$CEPH_DIR"
cleanup() {
  bash scripts/ceph-test-cluster.sh stop "$CEPH_DIR" >/dev/null 2>&1
  rm -rf "$CEPH_DIR" "$LOG"
}
trap cleanup EXIT
echo "== starting a Ceph test cluster (one mon, one memstore OSD, loopback)"
if bash scripts/ceph-test-cluster.sh start "$CEPH_DIR"; then
  export PVS_TEST_CEPH_ENV=$CEPH_DIR/env
else
  echo "!! the Ceph test cluster did not start: the RBD tests will try their own and fail loudly"
fi

passed=0 failed=0 suites_failed=()
count() {  # count NAME PASSED FAILED RC
  passed=$((passed + $2)); failed=$((failed + $3))
  if [ "$4" -ne 0 ] || [ "$3" -ne 0 ]; then suites_failed+=("$1"); fi
  if [ "$4" -ne 0 ] && [ "$3" -eq 0 ]; then failed=$((failed + 1)); fi
  echo "== $1: $2 passed, $3 failed (exit $4)"
}

ctest_counts() {  # parses "N% tests passed, F tests failed out of T"
  local line; line=$(grep -E "tests failed out of" "$1" | tail -1)
  local f t; f=$(echo "$line" | sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/')
  t=$(echo "$line" | sed -E 's/.* failed out of ([0-9]+).*/\1/')
  echo "$(( ${t:-0} - ${f:-0} )) ${f:-0}"
}

echo "== C tests (ctest)"
(cd build && ctest --no-tests=error --output-on-failure) 2>&1 | tee "$LOG/ctest.log"
rc=${PIPESTATUS[0]}
count "C tests" $(ctest_counts "$LOG/ctest.log") "$rc"

echo "== house rules (no file loops, no function over 60 lines)"
bash scripts/check-house.sh 2>&1 | tee "$LOG/house.log"
rc=${PIPESTATUS[0]}
count "house rules" $((rc == 0)) $((rc != 0)) "$rc"

echo "== C tests under AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DPVS_SANITIZE=ON -DPVS_WERROR=ON \
  -DPython3_EXECUTABLE=/usr/bin/python3 >/dev/null &&
  cmake --build build-asan -j"$(nproc)" >/dev/null &&
  (cd build-asan && ctest --no-tests=error --output-on-failure) 2>&1 | tee "$LOG/asan.log"
rc=${PIPESTATUS[0]}
count "C tests (ASan+UBSan)" $(ctest_counts "$LOG/asan.log") "$rc"

echo "== fuzz targets (libFuzzer + ASan + UBSan, ${PVS_FUZZ_SECONDS:-30} s each)"
bash scripts/fuzz.sh "${PVS_FUZZ_SECONDS:-30}" 2>&1 | tee "$LOG/fuzz.log"
rc=${PIPESTATUS[0]}
line=$(grep -E "^[0-9]+ passed, [0-9]+ failed$" "$LOG/fuzz.log" | tail -1)
count "fuzz targets" "$(echo "$line" | cut -d' ' -f1)" "$(echo "$line" | cut -d' ' -f3)" "$rc"

if [ -d t ] && ls t/*.t >/dev/null 2>&1; then
  echo "== Perl tests (prove)"
  PERL_DL_NONLAZY=1 prove -b -v t/ 2>&1 | tee "$LOG/prove.log" | grep -vE "^ok " 
  rc=${PIPESTATUS[0]}
  tests=$(grep -E "^Files=.*Tests=" "$LOG/prove.log" | sed -E 's/.*Tests=([0-9]+).*/\1/')
  nfail=$(grep -cE "^not ok " "$LOG/prove.log")
  count "Perl tests" $(( ${tests:-0} - nfail )) "$nfail" "$rc"
fi

# the Perl distribution as a CPAN user gets it: built and tested from the
# tarball's own files (MANIFEST), in a scratch copy of the tree
if [ -f MANIFEST ]; then
  echo "== Perl distribution (make disttest)"
  dist=$(mktemp -d /tmp/pvestorage-dist.XXXXXX)
  git ls-files -z 2>/dev/null | xargs -0 -I{} cp --parents {} "$dist/" 2>/dev/null || cp -a . "$dist/"
  ( cd "$dist" && perl Makefile.PL >/dev/null && make disttest ) >"$LOG/disttest.log" 2>&1
  rc=$?
  tail -4 "$LOG/disttest.log"
  rm -rf "$dist"
  count "Perl distribution" $(( rc == 0 )) $(( rc != 0 )) "$rc"
fi

# installed the way users install it: pip (wheel, --target) and the Debian
# packages (built with their tests, lintian, used from a scratch root)
echo "== packages (pip, Debian)"
bash scripts/check-packages.sh 2>&1 | tee "$LOG/packages.log"
rc=${PIPESTATUS[0]}
line=$(grep -E "^[0-9]+ passed, [0-9]+ failed$" "$LOG/packages.log" | tail -1)
count "packages" "$(echo "$line" | cut -d' ' -f1)" "$(echo "$line" | cut -d' ' -f3)" "$rc"

if [ -d python-tests ]; then
  echo "== Python tests (pytest)"
  PYTHONPATH="$ROOT/build/bindings/python${PYTHONPATH:+:$PYTHONPATH}" \
    /usr/bin/python3 -m pytest -q -p no:cacheprovider --ignore=python-tests/kernel python-tests 2>&1 | tee "$LOG/pytest.log"
  rc=${PIPESTATUS[0]}
  [ "$rc" -eq 5 ] && { echo "pytest collected no tests"; rc=1; }
  line=$(grep -E "^[0-9]+ (passed|failed)|[0-9]+ passed" "$LOG/pytest.log" | tail -1)
  p=$(echo "$line" | grep -oE "[0-9]+ passed" | grep -oE "[0-9]+")
  f=$(echo "$line" | grep -oE "[0-9]+ failed" | grep -oE "[0-9]+")
  e=$(echo "$line" | grep -oE "[0-9]+ errors?" | grep -oE "[0-9]+")
  count "Python tests" "${p:-0}" $(( ${f:-0} + ${e:-0} )) "$rc"
fi

# the krbd tests on Linux's own rbd driver: Debian's stock kernel in the test
# guest (QEMU), with udev and the real rbd command; counted on their own
echo "== real-kernel tests (the test guest)"
bash scripts/test-kernel.sh 2>&1 | tee "$LOG/kernel.log"
rc=${PIPESTATUS[0]}
line=$(grep -E "^[0-9]+ passed, [0-9]+ failed$" "$LOG/kernel.log" | tail -1)
count "real-kernel tests" "$(echo "$line" | cut -d' ' -f1)" "$(echo "$line" | cut -d' ' -f3)" "$rc"
grep -q "^SKIPPED: " "$LOG/kernel.log" && kernel_skipped=$(grep "^SKIPPED: " "$LOG/kernel.log")

# the bindings' suites again under valgrind: no definite leak and no memory
# error through our code (a few minutes; PVS_SKIP_VALGRIND=1 leaves it out,
# loudly)
if [ -n "${PVS_SKIP_VALGRIND:-}" ]; then
  echo "== valgrind: SKIPPED (PVS_SKIP_VALGRIND is set)"
else
  for lang in perl python; do
    echo "== $lang suite under valgrind"
    bash scripts/valgrind.sh "$lang" 2>&1 | tee "$LOG/valgrind-$lang.log"
    rc=${PIPESTATUS[0]}
    if [ "$rc" -eq 0 ]; then count "$lang under valgrind" 1 0 0; else count "$lang under valgrind" 0 1 "$rc"; fi
  done
fi

[ -n "${kernel_skipped:-}" ] && echo "real-kernel tests $kernel_skipped"
if [ ${#suites_failed[@]} -gt 0 ]; then
  echo "failing suites: ${suites_failed[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
