#!/usr/bin/env bash
# pvestorage as each kind of user installs it, from a copy of the tree:
#   - Python: pip wheel / pip install --target (setuptools, no package index)
#   - Debian: dpkg-buildpackage -us -uc -b (the project's tests run in it),
#     lintian with no error, then every package unpacked into a scratch root
#     (dpkg -x) and used from there: Perl, Python, the command with its man
#     page and bash completion, and a C program built with pkg-config.
# Each check prints ok/FAILED; ends with "N passed, M failed".
# PVS_SKIP_DEB=1 leaves the Debian part out (loudly).
set -uo pipefail
cd "$(dirname "$0")/.."
top=$PWD
work=$(mktemp -d /tmp/pvestorage-packages.XXXXXX)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0

check() {  # check NAME COMMAND...: one line, the output of a failure
  local name=$1 out
  shift
  if out=$("$@" 2>&1); then
    passed=$((passed + 1)); echo "ok: $name"
  else
    failed=$((failed + 1)); echo "FAILED: $name"; printf '%s\n' "$out" | tail -40 | sed 's/^/    /'
  fi
}

# a dir storage with a Windows VM's disk and an iso: what every user runs
mkdir -p "$work/store/images/100" "$work/store/template/iso"
: > "$work/store/images/100/vm-100-disk-0.raw"
: > "$work/store/template/iso/virtio.iso"
printf 'dir: store\n\tpath %s/store\n\tcontent images,iso\n' "$work" > "$work/storage.cfg"
want="store:100/vm-100-disk-0.raw $work/store/images/100/vm-100-disk-0.raw
store:iso/virtio.iso $work/store/template/iso/virtio.iso"
example() {  # example COMMAND...: the example program activates both volumes
  local got
  got=$("$@" "$work/storage.cfg" win11 store:100/vm-100-disk-0.raw store:iso/virtio.iso) || return 1
  [ "$got" = "$want" ] || { echo "printed: $got"; return 1; }
}

# the tree as committed (and new files not ignored), nothing built
mkdir "$work/src"
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$work/src"

# ---- Python
py=/usr/bin/python3
check "pip wheel builds a wheel with the stubs and py.typed" bash -c '
  cd "$1/src" && "$2" -m pip wheel -q --no-build-isolation --no-deps -w "$1/wheels" . &&
  files=$("$2" -c "import sys, zipfile; print(*zipfile.ZipFile(sys.argv[1]).namelist(), sep=chr(10))" "$1"/wheels/pvestorage-*.whl) &&
  for f in pvestorage/__init__.py pvestorage/__init__.pyi pvestorage/py.typed; do
    grep -qx "$f" <<<"$files" || { echo "the wheel lacks $f"; exit 1; }; done &&
  grep -q "^pvestorage/_pvestorage\..*\.so$" <<<"$files"' _ "$work" "$py"
check "pip install --target: the package is installed there" bash -c '
  cd "$1/src" && "$2" -m pip install -q --no-build-isolation --no-deps --target "$1/pytarget" . &&
  cd / && PYTHONPATH="$1/pytarget" "$2" -c "import pvestorage, sys; sys.exit(not pvestorage.__file__.startswith(\"$1/pytarget/\"))"' _ "$work" "$py"
check "pip-installed package: example activates a VM's volumes" example env PYTHONPATH="$work/pytarget" "$py" "$top/examples/activate_vm.py"

# ---- Debian
if [ -n "${PVS_SKIP_DEB:-}" ]; then
  echo "SKIP: the Debian packages (PVS_SKIP_DEB is set)"
else
  check "dpkg-buildpackage -us -uc -b (tests run in the build)" bash -c '
    cd "$1/src" && dpkg-buildpackage -us -uc -b >"$1/deb-build.log" 2>&1 || { tail -60 "$1/deb-build.log"; exit 1; }' _ "$work"
  debs=()
  for d in "$work"/*.deb; do [[ $d == *-dbgsym_* ]] || debs+=("$d"); done
  names=$(for d in "${debs[@]}"; do dpkg-deb -f "$d" Package; done | sort | tr '\n' ' ')
  check "five packages" test "$names" = "libpve-storage-xs-perl libpvestorage-dev libpvestorage0 pvestorage python3-pvestorage "
  check "lintian reports no error" bash -c '
    out=$(lintian --allow-root --fail-on error "$@" 2>&1); rc=$?; printf "%s\n" "$out" | grep -E "^E: " ; exit $rc' _ "${debs[@]}"
  root=$work/root
  for d in "${debs[@]}"; do dpkg -x "$d" "$root"; done
  arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
  vendorarch=$(perl -MConfig -e 'print $Config{vendorarch}')
  check "Perl: PVE::Storage::XS from the package" example perl -I"$root$vendorarch" "$top/examples/activate_vm.pl"
  check "Perl: the module is the packaged one" perl -I"$root$vendorarch" -MPVE::Storage::XS \
    -e 'exit($INC{"PVE/Storage/XS.pm"} =~ m{^\Q'"$root"'\E/} ? 0 : 1)'
  check "Python: pvestorage from the package" example env PYTHONPATH="$root/usr/lib/python3/dist-packages" "$py" "$top/examples/activate_vm.py"
  check "Python: the package has its stubs and py.typed" \
    test -f "$root/usr/lib/python3/dist-packages/pvestorage/py.typed" -a -f "$root/usr/lib/python3/dist-packages/pvestorage/__init__.pyi"
  check "the command: --version and a path" bash -c '
    "$1/usr/bin/pvestorage" --version | grep -q "^pvestorage " &&
    [ "$("$1/usr/bin/pvestorage" --config "$2/storage.cfg" path store:iso/virtio.iso)" = "$2/store/template/iso/virtio.iso" ]' _ "$root" "$work"
  check "the man page has JSON OUTPUT, FILES, ENVIRONMENT, EXIT STATUS" bash -c '
    page=$(zcat "$1/usr/share/man/man1/pvestorage.1.gz") &&
    for s in "JSON OUTPUT" FILES ENVIRONMENT "EXIT STATUS"; do grep -q "^\.SH $s" <<<"$page" || { echo "no $s"; exit 1; }; done' _ "$root"
  check "the udev rule names the installed namer, which names a device" bash -c '
    grep -q "PROGRAM=\"/usr/libexec/pvestorage/rbdnamer %k\", SYMLINK+=\"rbd-pve/%c\"" \
      "$1/usr/lib/udev/rules.d/60-pvestorage-rbd.rules" &&
    d=$(mktemp -d) && mkdir -p "$d/sys/devices/rbd/0" && cd "$d/sys/devices/rbd/0" &&
    printf "f1\n" >cluster_fsid && printf "rbd\n" >pool && printf "\n" >pool_ns &&
    printf "vm-1-disk-0\n" >name && printf -- "-\n" >current_snap &&
    [ "$("$1/usr/libexec/pvestorage/rbdnamer" --root "$d" rbd0)" = "f1/rbd/vm-1-disk-0" ]' _ "$root"
  check "bash completion: commands, storage IDs, volume IDs" bash -c '
    source "$1/usr/share/bash-completion/completions/pvestorage"
    export PATH="$1/usr/bin:$PATH"
    # as bash calls it: the line and the cursor (the completion splits the
    # line itself; bash breaks words at COMP_WORDBREAKS, ":" among them)
    comp() { COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _pvestorage; echo "${COMPREPLY[*]}"; }
    [ "$(comp pvestorage ma)" = "map mapped" ] || { echo "commands: $(comp pvestorage ma)"; exit 1; }
    [ "$(comp pvestorage --config "$2/storage.cfg" activate st)" = "store:" ] || { echo "storages: $(comp pvestorage --config "$2/storage.cfg" activate st)"; exit 1; }
    got=$(comp pvestorage --config "$2/storage.cfg" activate store:)
    [ "$got" = "100/vm-100-disk-0.raw iso/virtio.iso" ] || { echo "volumes: $got"; exit 1; }' _ "$root" "$work"
  check "C: a program built with pkg-config against the packages" bash -c '
    export PKG_CONFIG_PATH="$1/usr/lib/$2/pkgconfig"
    cc "$3/examples/activate_vm.c" $(pkg-config --cflags --libs pvestorage) -Wl,-rpath,"$1/usr/lib/$2" -o "$4/activate_vm" &&
    inc=$(realpath "$(pkg-config --variable=includedir pvestorage)") && [ "$inc" = "$1/usr/include" ] || { echo "includedir: $inc"; exit 1; }' _ "$root" "$arch" "$top" "$work"
  check "C: the program runs on the packaged library" example "$work/activate_vm"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
