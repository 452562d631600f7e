#!/bin/bash
# Regenerate core/tests/data/node_cases.upstream.json: what upstream's own
# storage layer (pve-storage's PVE::Storage and its LVM, LVM-thin, ZFS and
# iSCSI plugins over pve-common's run_command) does for each case of
# core/tests/data/node_cases.json -- the commands it runs (argv as
# run_command gets it), its result, its error and its warnings -- when the
# node's tools answer as the case says.  The tools are core/tests/fake_node.c
# (build/core/tests/fake-node), the same fake the C, Perl and Python tests
# run our plugins against, so "runs the same commands as upstream, with
# the same messages" is checked in CI, where upstream's sources are not
# present.
#
#   scripts/upstream-node-golden.sh PVE_STORAGE_CHECKOUT PVE_COMMON_CHECKOUT [FAKE_NODE]
#
# Each case runs in a mount namespace of its own (unshare -m) whose /dev
# holds only null, zero and the case's "devices" (block nodes) and "links"
# (/dev/disk/by-id), whose /sys and /run (/var/run) are empty tmpfs
# holding only the case's "files", "dirs" and "links" there, and whose
# /usr/bin/iscsiadm and /usr/bin/iscsi-ls are the fake (an overlay; a
# case's "absent" ones are hidden): upstream looks at these absolute paths
# itself, and nothing on the host changes.  A case's "aged" files were
# touched an hour ago.  127.0.0.1:13260 listens throughout (a reachable
# iSCSI portal for the TCP check).  Upstream's
# String::ShellQuote (which names commands in messages) is Debian's, unpacked
# into a temporary directory (apt-get download; never installed).  A
# message's " at FILE line N." (a Perl die without a newline) is dropped,
# as our messages have no Perl file to name.
set -euo pipefail
storage=${1:?usage: $0 PVE_STORAGE_CHECKOUT PVE_COMMON_CHECKOUT [FAKE_NODE]}
common=${2:?usage: $0 PVE_STORAGE_CHECKOUT PVE_COMMON_CHECKOUT [FAKE_NODE]}
here=$(cd "$(dirname "$0")/.." && pwd)
fake=${3:-$here/build/core/tests/fake-node}
[ -x "$fake" ] || { echo "no fake-node at $fake (build first)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$work" && apt-get download -q libstring-shellquote-perl >/dev/null && dpkg -x ./*.deb sq)
mkdir -p "$work/bin"
for t in vgs lvs lvchange vgscan vgchange udevadm zpool zfs iscsiadm blockdev iscsi-ls; do
    ln -s "$fake" "$work/bin/$t"
done
python3 -c 'import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind(("127.0.0.1", 13260)); s.listen(64)
while True:   # the client closes first: no TIME_WAIT on the port here
    c = s.accept()[0]
    while c.recv(64): pass
    c.close()' &
listener=$!
trap 'kill "$listener"; rm -rf "$work"' EXIT

cat >"$work/case.pl" <<'PERL'
use strict; use warnings;
BEGIN { unshift @INC, "$ENV{SQ}/usr/share/perl5"; }
use String::ShellQuote ();
use JSON::PP;
use File::Basename qw(basename);
use PVE::Tools;
my @commands;
my $orig = \&PVE::Tools::run_command;
{
    no warnings 'redefine';
    *PVE::Tools::run_command = sub {
        my ($cmd, %p) = @_;
        push @commands, [@$cmd];
        my @c = @$cmd;
        my $name = basename($c[0]);
        $c[0] = "$ENV{FAKE_BIN}/$name";
        my @r = eval { $orig->(\@c, %p) };
        if (my $e = $@) { $e =~ s{\Q$ENV{FAKE_BIN}/$name\E}{$cmd->[0]}g; die $e; }
        return wantarray ? @r : $r[0];
    };
}
require PVE::Storage;
{ no warnings qw(redefine once); *PVE::Cluster::get_vmlist = sub { return { ids => {} } }; }
# a command-line caller (pvesm), not a task worker: ZFS's 10 s waits
{ no warnings qw(redefine once); *PVE::RPCEnvironment::is_worker = sub { 0 }; }
my $spec = decode_json(do { local $/; open(my $f, '<', $ENV{CASE_FILE}) or die; <$f> });
my $c = $spec->{call};
my $cfg = PVE::Storage::Plugin->parse_config('/etc/pve/storage.cfg', $spec->{storage_cfg});
# fd 2 stays open (a closed one would be taken by run_command's pipes):
# it goes to a file, read back as the warnings
open(my $saved, '>&', \*STDERR) or die;
open(STDERR, '>', "$ENV{CASE_FILE}.stderr") or die;
local $SIG{__WARN__} = sub { print STDERR $_[0] };
my $plugin_of = sub {
    my $scfg = PVE::Storage::storage_config($cfg, $_[0]);
    return (PVE::Storage::Plugin->lookup($scfg->{type}), $scfg);
};
my $result = eval {
    my $op = $c->{op};
    if ($op eq 'activate') {
        PVE::Storage::activate_volumes($cfg, $c->{volids}, $c->{snapname}); undef
    } elsif ($op eq 'deactivate') {
        PVE::Storage::deactivate_volumes($cfg, $c->{volids}, $c->{snapname}); undef
    } elsif ($op eq 'activate_storage') {
        PVE::Storage::activate_storage($cfg, $c->{storeid}); undef
    } elsif ($op eq 'deactivate_storage') {
        PVE::Storage::deactivate_storage($cfg, $c->{storeid}); undef
    } elsif ($op eq 'path') {
        scalar PVE::Storage::path($cfg, $c->{volid}, $c->{snapname})
    } elsif ($op eq 'status') {
        my ($p, $scfg) = $plugin_of->($c->{storeid});
        my @s = $p->status($c->{storeid}, $scfg, {});
        # as storage_info takes it: an inactive storage's sizes mean nothing
        $s[3] ? { total => 0 + $s[0], avail => 0 + $s[1], used => 0 + $s[2], active => 1 } : { active => 0 }
    } elsif ($op eq 'list') {
        my ($p, $scfg) = $plugin_of->($c->{storeid});
        # (images alone: with rootdir too, upstream lists twice, once per
        # content type; no guest is a container here)
        my $l = $p->list_volumes($c->{storeid}, $scfg, $c->{vmid}, ['images']);
        [ map {
            my %e = %$_;
            delete $e{ctime} if !defined($e{ctime}) || $e{ctime} eq '';
            $e{$_} = 0 + $e{$_} for grep { defined $e{$_} } qw(size vmid ctime approximate-size);
            \%e
        } sort { $a->{volid} cmp $b->{volid} } @$l ]
    } else { die "unknown op $op\n" }
};
my $err = $@;
open(STDERR, '>&', $saved) or die;
my $buf = do { local $/; open(my $f, '<', "$ENV{CASE_FILE}.stderr") or die; <$f> } // '';
s/ at \S+ line \d+\.\n\z/\n/ for $err, $buf;
$buf =~ s/ at \S+ line \d+\.\n/\n/g;
# Perl's own warnings about upstream's code (list_volumes looks up an
# iscsidirect LUN's undefined vmid) are no message of upstream's
$buf =~ s/^Use of uninitialized value[^\n]*\n//mg;
print JSON::PP->new->canonical->encode({
    commands => \@commands,
    result => $result,
    error => $err eq '' ? undef : $err,
    warnings => [ split /\n/, $buf ],
});
PERL

cases=$here/core/tests/data/node_cases.json
n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["cases"]))' "$cases")
: >"$work/out.jsonl"
for ((i = 0; i < n; i++)); do
    python3 - "$cases" "$i" "$work/case.json" "$work/responses.json" "$work/devices" "$work/setup.sh" <<'PY'
import json, shlex, sys, time
spec = json.load(open(sys.argv[1])); c = spec["cases"][int(sys.argv[2])]
json.dump({"storage_cfg": spec["storage_cfg"], "call": c["call"]}, open(sys.argv[3], "w"))
json.dump({"responses": c["responses"]}, open(sys.argv[4], "w"))
open(sys.argv[5], "w").write("".join(d + "\n" for d in c.get("devices", [])))
def at(p):   # where a case's path is made: /dev in the private one ($d)
    assert p.startswith(("/dev/", "/sys/", "/run/", "/var/run/")), p
    return '"$d"' + shlex.quote(p[4:]) if p.startswith("/dev/") else shlex.quote(p)
q = shlex.quote
sh = []
for p in c.get("dirs", []):
    sh.append(f"mkdir -p {at(p)}")
for p, text in c.get("files", {}).items():
    sh.append(f"mkdir -p \"$(dirname {at(p)})\"; printf %s {q(text)} >{at(p)}")
for p, dest in c.get("links", {}).items():
    sh.append(f"mkdir -p \"$(dirname {at(p)})\"; ln -s {q(dest)} {at(p)}")
for p in c.get("aged", []):
    sh.append(f"touch -a -m -d @{int(time.time()) - 3600} {at(p)}")
for t in ("iscsiadm", "iscsi-ls"):
    if "/usr/bin/" + t in c.get("absent", []):
        sh.append(f"mknod \"$1/usrbin/{t}\" c 0 0")   # an overlay's whiteout: not there
    else:
        sh.append(f"ln -s \"$FAKE\" \"$1/usrbin/{t}\"")
open(sys.argv[6], "w").write("\n".join(sh) + "\n")
PY
    unshare -m bash -c '
        set -e
        d=$1/devroot; rm -rf "$d"; mkdir -p "$d"
        mknod "$d/null" c 1 3; mknod "$d/zero" c 1 5; chmod 666 "$d/null" "$d/zero"
        while read -r dev; do
            [ -n "$dev" ] || continue
            mkdir -p "$d/$(dirname "${dev#/dev/}")"; mknod "$d/${dev#/dev/}" b 7 200
        done <"$1/devices"
        mount --make-rprivate /
        mount -t tmpfs tmpfs /sys; mount -t tmpfs tmpfs /run
        rm -rf "$1/usrbin"; mkdir "$1/usrbin"
        FAKE=$2 . "$1/setup.sh"
        mount -t overlay overlay -o "lowerdir=$1/usrbin:/usr/bin" /usr/bin
        mount --bind "$d" /dev
        shift 2
        exec "$@"' _ "$work" "$fake" \
        env SQ="$work/sq" FAKE_BIN="$work/bin" CASE_FILE="$work/case.json" \
            FAKE_NODE_CASE="$work/responses.json" \
            bash "$here/scripts/upstream-perl.sh" "$storage" "$common" "$work/case.pl" >>"$work/out.jsonl"
    echo >>"$work/out.jsonl"
done
python3 - "$cases" "$work/out.jsonl" "$here/core/tests/data/node_cases.upstream.json" <<'PY'
import json, sys
spec = json.load(open(sys.argv[1]))
outs = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
assert len(outs) == len(spec["cases"]), (len(outs), len(spec["cases"]))
gold = [dict(name=c["name"], **o) for c, o in zip(spec["cases"], outs)]
json.dump({"cases": gold}, open(sys.argv[3], "w"), indent=1, sort_keys=True)
open(sys.argv[3], "a").write("\n")
PY
echo "wrote core/tests/data/node_cases.upstream.json ($n cases)"
