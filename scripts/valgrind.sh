#!/usr/bin/env bash
# Run the Perl and Python suites under valgrind and report definite leaks and
# memory errors whose stack passes through our code (core, XS, extension).
# Perl and CPython keep some memory until exit on purpose; only frames of
# ours count.  Slow (minutes): not part of scripts/test.sh.
#   bash scripts/valgrind.sh [perl|python]...
set -uo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d /tmp/pvestorage-valgrind.XXXXXX)
which=${*:-perl python}
# forked children (the bounded stat of a storage path) exit with the parent's heap: not leaks
VG=(valgrind --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite --child-silent-after-fork=yes
    --track-origins=no --num-callers=30)
ours='pvs_|XS\.xs|/core/src/|pvestorage_module|bindings/python'
bad=0

check() {  # check LABEL LOGFILE...
  local label=$1; shift
  local lost errs
  lost=$(cat "$@" | grep -E "definitely lost:" | awk '{s+=$4} END {print s+0}')
  # an error or leak record counts when any of its frames is ours
  errs=$(cat "$@" | awk -v re="$ours" '
      /^==[0-9]+== [A-Z]/ && !/^==[0-9]+== (HEAP|LEAK|ERROR|Memcheck|Copyright|Using|Command|Parent|For lists|To see|Reachable|   )/ {
          if (rec != "" && rec ~ re) n++; rec = $0; next }
      /^==[0-9]+==    (at|by) / { rec = rec "\n" $0; next }
      /^==[0-9]+== *$/ { if (rec != "" && rec ~ re) n++; rec = "" }
      END { if (rec != "" && rec ~ re) n++; print n+0 }')
  echo "$label: definitely lost (all code) ${lost} bytes; error/leak records through our code: ${errs}"
  [ "$errs" -eq 0 ] || bad=1
}

for w in $which; do
  case $w in
  perl)
    for t in t/*.t; do
      [ "$(basename "$t")" = 06-leak.t ] && continue   # 200k calls: minutes under valgrind
      PVS_UNDER_VALGRIND=1 PERL_DL_NONLAZY=1 PERL_DESTRUCT_LEVEL=2 "${VG[@]}" --log-file="$out/perl-$(basename "$t")-%p.log" \
        perl -Mblib "$t" >"$out/perl-$(basename "$t").out" 2>&1 || { echo "FAILED under valgrind: $t"; bad=1; }
    done
    check "Perl suite" "$out"/perl-*.log
    ;;
  python)
    PVS_UNDER_VALGRIND=1 PYTHONMALLOC=malloc PYTHONPATH=build/bindings/python "${VG[@]}" --log-file="$out/python-%p.log" \
      /usr/bin/python3 -m pytest -q -p no:cacheprovider -m "not slow" --ignore=python-tests/kernel python-tests >"$out/python.out" 2>&1 \
      || { echo "FAILED under valgrind: pytest"; tail -5 "$out/python.out"; bad=1; }
    check "Python suite" "$out"/python-*.log
    ;;
  esac
done
echo "logs: $out"
exit $bad
