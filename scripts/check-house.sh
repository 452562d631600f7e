#!/usr/bin/env bash
# The house rules, on the built tree: no two files of core/src, bindings/
# or cli/ call each other in a loop (by the symbols nm shows each object
# defining and using), and no function of theirs over 60 lines.  Prints
# each breach; exit 1 when there is one.  Run after scripts/build.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
bad=0
for group in pvs_objects pvestorage_py pvestorage_cli; do
  mapfile -t objs < <(find "build/CMakeFiles/$group.dir" -name '*.o' | sort)
  out=$(python3 scripts/house-loops.py "${objs[@]}")
  echo "$group: $(echo "$out" | tail -1)"
  if echo "$out" | grep -q '^LOOP'; then echo "$out" | grep '^LOOP'; bad=1; fi
done
# the Perl binding is one file; its .pm files call only down into it
long=$(python3 - <<'PY'
import glob, re
files = sorted(set(glob.glob("core/src/**/*.c", recursive=True) + glob.glob("bindings/**/*.c", recursive=True)
                   + glob.glob("bindings/**/*.xs", recursive=True) + glob.glob("cli/*.c")) - {"bindings/perl/XS.c"})
for f in files:
    lines = open(f, errors="replace").read().split("\n")
    start = None
    for i, l in enumerate(lines):
        if l.startswith("{") and start is None:
            j = i - 1
            while j > 0 and "(" not in lines[j]:
                j -= 1
            if "=" in lines[j] and "(" not in lines[j].split("=")[0]:
                continue   # an initializer, not a function
            start = (i, lines[j].strip()[:60])
        elif l.startswith("}") and start is not None:
            if i - start[0] - 1 > 60:
                print(f"{f}:{start[0] + 1}: {i - start[0] - 1} lines: {start[1]}")
            start = None
PY
)
if [ -n "$long" ]; then echo "functions over 60 lines:"; echo "$long"; bad=1; else echo "no function over 60 lines"; fi
exit $bad
