#!/usr/bin/env bash
# The examples/ programs, each run on a dir storage holding a Windows VM's
# disk and an iso: the same two paths from C, Perl and Python, and the same
# error for a missing disk.
set -euo pipefail
src=$1 build=$2
tmp=$(mktemp -d /tmp/pvs-examples.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/store/images/100" "$tmp/store/template/iso"
: > "$tmp/store/images/100/vm-100-disk-0.qcow2"
: > "$tmp/store/template/iso/virtio.iso"
printf 'dir: store\n\tpath %s/store\n\tcontent images,iso\n' "$tmp" > "$tmp/storage.cfg"
# shellcheck disable=SC2046
cc "$src/examples/activate_vm.c" -I"$src/core/include" $(pkg-config --cflags jansson) \
   -L"$build" -lpvestorage -Wl,-rpath,"$build" $(pkg-config --libs jansson) -o "$tmp/activate_vm"
want="store:100/vm-100-disk-0.qcow2 $tmp/store/images/100/vm-100-disk-0.qcow2
store:iso/virtio.iso $tmp/store/template/iso/virtio.iso"
vols=(store:100/vm-100-disk-0.qcow2 store:iso/virtio.iso)
langs=(c python)
if [ -d "$src/blib/arch" ]; then langs+=(perl); else echo "SKIP: the Perl example (PVE::Storage::XS not built: run scripts/build.sh)"; fi
for lang in "${langs[@]}"; do
  case $lang in
    c) run=("$tmp/activate_vm") ;;
    perl) run=(perl -I"$src/blib/lib" -I"$src/blib/arch" "$src/examples/activate_vm.pl") ;;
    python) run=(env PYTHONPATH="$build/bindings/python" /usr/bin/python3 "$src/examples/activate_vm.py") ;;
  esac
  got=$("${run[@]}" "$tmp/storage.cfg" win11 "${vols[@]}")
  [ "$got" = "$want" ] || { echo "$lang example printed: $got"; exit 1; }
  err=$("${run[@]}" "$tmp/storage.cfg" win11 store:100/vm-100-disk-9.qcow2 2>&1 >/dev/null) && { echo "$lang: no failure"; exit 1; }
  [ "$err" = "volume 'store:100/vm-100-disk-9.qcow2' does not exist" ] || { echo "$lang example error: $err"; exit 1; }
done
echo "examples: C, Perl and Python agree"
