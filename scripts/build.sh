#!/usr/bin/env bash
# Build the core, the command, the C tests and the bindings into build/.
# PVS_WERROR=1 (the default) treats warnings as errors.
set -euo pipefail
cd "$(dirname "$0")/.."

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPVS_WERROR="${PVS_WERROR:-1}" \
  -DPython3_EXECUTABLE=/usr/bin/python3 >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
if [ -f Makefile.PL ]; then
  # the Perl binding: EUMM's top-level Makefile lives beside Makefile.PL
  if [ ! -f Makefile ] || [ Makefile.PL -nt Makefile ] || [ core/sources.txt -nt Makefile ]; then
    perl Makefile.PL >/dev/null
  fi
  make -s >/dev/null
fi
echo "build: done (build/pvestorage)"
