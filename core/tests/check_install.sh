#!/usr/bin/env bash
# Install into a temp prefix, then build and run a C program against it
# twice: with pkg-config and with CMake's find_package(pvestorage).
set -euo pipefail
build=$1
tmp=$(mktemp -d /tmp/pvs-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
cat > "$tmp/consumer.c" <<'C'
#include <pvestorage.h>
#include <stdio.h>
int main(void)
{
    pvs_error err = PVS_ERROR_INIT;
    json_t *h = json_pack("{s:s}", "guest-is-windows", "yes");
    int rc = pvs_verify_hints(h, &err);
    printf("%d %d %s", PVS_APIVER, rc == PVS_EHINTS, err.message);
    pvs_error_clear(&err);
    json_decref(h);
    return 0;
}
C
want="15 1 internal error - hints are not valid: 400 Parameter verification failed.
guest-is-windows: type check ('boolean') failed - got 'yes'"
export PKG_CONFIG_PATH=$tmp/prefix/lib/pkgconfig:$tmp/prefix/lib/x86_64-linux-gnu/pkgconfig
# shellcheck disable=SC2046
cc "$tmp/consumer.c" $(pkg-config --cflags --libs pvestorage) -Wl,-rpath,"$(pkg-config --variable=libdir pvestorage)" \
   -o "$tmp/by-pkgconfig"
got=$("$tmp/by-pkgconfig")
[ "$got" = "$want" ] || { echo "pkg-config consumer printed: $got"; exit 1; }
mkdir "$tmp/cmake"
cat > "$tmp/cmake/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.18)
project(consumer C)
find_package(pvestorage 0.1 REQUIRED)
add_executable(consumer $tmp/consumer.c)
target_link_libraries(consumer pvestorage::pvestorage)
CM
cmake -S "$tmp/cmake" -B "$tmp/cmake/b" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/cmake/b" >/dev/null
got=$("$tmp/cmake/b/consumer")
[ "$got" = "$want" ] || { echo "CMake consumer printed: $got"; exit 1; }
echo "installed library found and linked by pkg-config and by find_package"

# the Python module and its stub, installed beside the library
if [ -d "$tmp/prefix/lib/python3/dist-packages" ]; then
  for f in __init__.py __init__.pyi py.typed; do
    [ -f "$tmp/prefix/lib/python3/dist-packages/pvestorage/$f" ] || { echo "no pvestorage/$f installed"; exit 1; }
  done
  got=$(cd / && PYTHONPATH="$tmp/prefix/lib/python3/dist-packages" /usr/bin/python3 -c \
        'import pvestorage; print(pvestorage.APIVER, pvestorage.__file__.startswith("'"$tmp"'"))')
  [ "$got" = "15 True" ] || { echo "installed Python module: $got"; exit 1; }
else
  echo "cmake --install installed no Python module"
  exit 1
fi
