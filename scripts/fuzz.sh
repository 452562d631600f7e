#!/usr/bin/env bash
# Build the libFuzzer targets (clang, ASan+UBSan) into build-fuzz/ and run
# each for a fixed budget on a copy of its seed corpus (core/tests/fuzz/corpus).
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
# Ends with "N passed, M failed"; a crash, leak or oracle failure fails its
# target and leaves the input in build-fuzz/artifacts/.
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
shift || true
targets=("$@")
# every target by default: the one list, in core/tests/fuzz/CMakeLists.txt
[ ${#targets[@]} -gt 0 ] ||
  read -r -a targets <<<"$(sed -n 's/^set(PVS_FUZZ_TARGETS \(.*\))$/\1/p' core/tests/fuzz/CMakeLists.txt)"

if ! command -v clang >/dev/null; then
  echo "fuzz: SKIP: clang is not installed (scripts/install-deps.sh installs it)"
  echo "0 passed, 0 failed"
  exit 0
fi
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DPVS_FUZZ=ON \
  -DPVS_WERROR=ON -DPVS_BUILD_PYTHON=OFF >/dev/null &&
  cmake --build build-fuzz -j"$(nproc)" >/dev/null || { echo "fuzz: build failed"; exit 1; }

work=$(mktemp -d /tmp/pvestorage-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p build-fuzz/artifacts
passed=0 failed=0
for t in "${targets[@]}"; do
  mkdir -p "$work/$t"
  cp core/tests/fuzz/corpus/"$t"/* "$work/$t/"
  if build-fuzz/core/tests/fuzz/fuzz_"$t" -max_total_time="$secs" -max_len=4096 -timeout=10 \
      -rss_limit_mb=2048 -artifact_prefix=build-fuzz/artifacts/"$t"- "$work/$t" >"$work/$t.log" 2>&1; then
    echo "fuzz_$t: ok ($(grep -oE 'Done [0-9]+ runs' "$work/$t.log" | tail -1))"
    passed=$((passed + 1))
  else
    echo "fuzz_$t: FAILED"
    grep -E "ERROR|SUMMARY|Test unit written" "$work/$t.log" | head -20
    failed=$((failed + 1))
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
