#!/usr/bin/env bash
# The main job on an embedded default: a demo storage.cfg with a dir storage
# under a temp dir, a Windows guest's disk activated and mapped with hints.
set -euo pipefail
cd "$(dirname "$0")/.."
PVS=${PVS:-build/pvestorage}

demo=$(mktemp -d /tmp/pvestorage-demo.XXXXXX)
trap 'rm -rf "$demo"' EXIT
cat > "$demo/storage.cfg" <<CFG
dir: demo
	path $demo/store
	content images,iso,backup
CFG
mkdir -p "$demo/store/images/100"
truncate -s 64M "$demo/store/images/100/vm-100-disk-0.raw"

run() { echo "\$ pvestorage $*"; "$PVS" "$@"; echo; }
echo "demo storage.cfg ($demo/storage.cfg):"
sed 's/^/    /' "$demo/storage.cfg"
echo
run hints
run --config "$demo/storage.cfg" --json activate demo:100/vm-100-disk-0.raw \
    --hint guest-is-windows=1 --hint plugin-may-deactivate-volume=1
run --config "$demo/storage.cfg" --json map demo:100/vm-100-disk-0.raw \
    --hints '{"guest-is-windows": true, "plugin-may-deactivate-volume": true}'
run --config "$demo/storage.cfg" path demo:iso/virtio-win.iso
echo "\$ pvestorage verify-hints --hint guest-is-windows=yes   (an invalid hint)"
"$PVS" verify-hints --hint guest-is-windows=yes || echo "(exit $?)"
echo
run --config "$demo/storage.cfg" deactivate demo:100/vm-100-disk-0.raw
echo "demo: done"
