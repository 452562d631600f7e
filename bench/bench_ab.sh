#!/usr/bin/env bash
# Before/after, in one run: the Perl and Python bindings' verify_hints and
# activate_volumes calls/s of this tree against another revision (default:
# 565a15e, the tree before issue 19's one description of the API), built
# in a temporary worktree.  Each side runs ROUNDS times, alternating, and
# the best rate of each is compared: "after/before" > 1 is faster now.
# Run: bash bench/bench_ab.sh [REV] [CALLS] [ROUNDS]   (after scripts/build.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:-565a15e}
calls=${2:-200000}
rounds=${3:-3}
before=$(mktemp -d /tmp/pvs-bench-ab.XXXXXX)
trap 'git worktree remove --force "$before/tree" >/dev/null 2>&1 || true; rm -rf "$before"' EXIT
git worktree add --detach "$before/tree" "$rev" >/dev/null 2>&1
(cd "$before/tree" && bash scripts/build.sh >/dev/null)
side() {   # side DIR: the "NAME RATE" lines of both bindings built in DIR
  (cd "$1" && perl -Mblib "$OLDPWD/bench/ab_calls.pl" "$calls" &&
   PYTHONPATH="$1/build/bindings/python" /usr/bin/python3 "$OLDPWD/bench/ab_calls.py" "$calls")
}
: > "$before/a"; : > "$before/b"
for _ in $(seq "$rounds"); do
  side "$before/tree" >> "$before/b"
  side "$PWD" >> "$before/a"
done
echo "rev $rev (before) against $(git rev-parse --short HEAD)$(git diff --quiet || echo +changes) (after), $calls calls, best of $rounds rounds"
awk 'NR == FNR { if ($2 > b[$1]) b[$1] = $2; next } { if ($2 > a[$1]) a[$1] = $2; if (!($1 in o)) { o[$1] = ++n; k[n] = $1 } }
     END { for (i = 1; i <= n; i++) { x = k[i]; printf "%-32s before %10.0f/s  after %10.0f/s  after/before %.2f\n", x, b[x], a[x], a[x] / b[x] } }' \
  "$before/b" "$before/a"
