#!/bin/bash
# Regenerate core/tests/data/guests.upstream.json: what qemu-server's own
# VM start makes of each configuration of core/tests/data/guests.json --
# parse_vm_config, then (as vm_start_nolock, unless it resumes)
# vmconfig_apply_pending with the file written and read back, then the
# volumes of get_current_vm_volumes and the ostype -- once as vm_start
# ("start") and once without the pending changes ("current"), with the
# storages of core/tests/data/guests.cfg.  The C tests compare our parser
# with this file, so "reads a configuration as qemu-server does" is
# checked in CI, where the upstream sources are not present.
#
#   scripts/upstream-guest-golden.sh QEMU_SERVER GUEST_COMMON PVE_STORAGE PVE_COMMON
#
# (checkouts, e.g. `git archive` of /work/.mirror/proxmox+*/repo).  Upstream
# runs through scripts/upstream-perl.sh (its stubs of a node); what
# qemu-server needs beyond that (SDN, HA, firewall ...) and never uses here
# loads as a stub whose functions return 1.  Writing the file is kept in
# memory.  Upstream lists a property string's errors and applies pending
# values in hash order: the golden file sorts each message's error lines
# and the warnings, as the tests compare them; "internal error at FILE line
# N." (a bare Perl die) becomes "internal error".
set -euo pipefail
qs=${1:?usage: $0 QEMU_SERVER GUEST_COMMON PVE_STORAGE PVE_COMMON}
gc=${2:?usage: $0 QEMU_SERVER GUEST_COMMON PVE_STORAGE PVE_COMMON}
st=${3:?usage: $0 QEMU_SERVER GUEST_COMMON PVE_STORAGE PVE_COMMON}
co=${4:?usage: $0 QEMU_SERVER GUEST_COMMON PVE_STORAGE PVE_COMMON}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat >"$work/StubAll.pm" <<'PERL'
package StubAll;
# the last @INC entry: a module nothing else provides is a stub
push @INC, sub {
    my (undef, $file) = @_;
    return if $file =~ m{^/} || $file =~ /Win32/;
    (my $pkg = $file) =~ s|/|::|g;
    $pkg =~ s/\.pm$//;
    my $src = "package $pkg; sub import { my \$c = caller(); no strict 'refs';"
        . " for my \$n (\@_[1 .. \$#_]) { next if ref \$n || \$n =~ /^[:\\-\\\$\\\@\\%]/;"
        . " *{\"\${c}::\$n\"} = sub { 1 } unless defined &{\"\${c}::\$n\"} } }"
        . " our \$AUTOLOAD; sub AUTOLOAD { return 1 } 1;\n";
    open(my $fh, '<', \$src) or die;
    return $fh;
};
1;
PERL

cat >"$work/start.pl" <<'PERL'
use strict; use warnings; no warnings 'once';
require PVE::QemuServer;
require PVE::QemuConfig;
use JSON::PP;
my ($storage_cfg, $cases_file) = @ARGV;
my $slurp = sub { open(my $fh, '<:raw', $_[0]) or die "$_[0]: $!"; local $/; <$fh> };
my @w;
local $SIG{__WARN__} = sub {
    push @w, $_[0] if $_[0] !~ /^(Use of uninitialized value|Exiting subroutine via next)/;
};
my $storecfg = PVE::Storage::Plugin->parse_config('/etc/pve/storage.cfg', $slurp->($storage_cfg));
# PVE::Storage's rbd path needs the cluster's fsid (qemu-server's own tests set it so)
$_->{type} eq 'rbd' and $_->{fsid} = '11111111-2222-3333-4444-555555555555'
    for grep { $_ } values %{ $storecfg->{ids} };
my $vmid = 120;
my $file = "/etc/pve/qemu-server/$vmid.conf";
my ($text, $written);
{
    no warnings 'redefine';
    *PVE::QemuConfig::write_config = sub { $written = PVE::QemuServer::write_vm_config($file, $_[2]) };
    *PVE::QemuConfig::load_config = sub { PVE::QemuServer::parse_vm_config($file, $written // $text) };
    *PVE::RPCEnvironment::get = sub { bless {}, 'FakeRPC' };
    *FakeRPC::AUTOLOAD = sub { 1 };
    *PVE::Storage::vdisk_free = sub { };
    # upstream-perl.sh stubs URI::Escape; descriptions are coded with it
    *PVE::ParseUtils::uri_unescape = sub { my ($s) = @_; $s =~ s/%([0-9A-Fa-f]{2})/chr(hex($1))/eg; $s };
    *PVE::ParseUtils::uri_escape = sub { my ($s) = @_; $s =~ s/([^A-Za-z0-9\-\._~])/sprintf('%%%02X', ord($1))/eg; $s };
    my $log_warn = sub { my ($m) = @_; chomp $m; push @w, "$m\n" };
    *PVE::QemuServer::log_warn = *PVE::QemuServer::Drive::log_warn = $log_warn;
}
my $norm = sub {   # a property string's errors sorted, each with its blank line
    my ($m) = @_;
    $m =~ s/internal error at \S+ line \d+\.\n/internal error\n/;
    my ($head, @lines) = split(/\n/, $m, -1);
    return $m if $head !~ /format error$/;
    pop @lines;   # the message ends in a newline
    my @errors;
    for my $l (@lines) {
        if ($l eq '' && @errors) { $errors[-1] .= "\n" } else { push @errors, "$l\n" }
    }
    return join('', "$head\n", sort @errors);
};
my $res = {};
for my $c (@{ JSON::PP->new->decode($slurp->($cases_file)) }) {
    for my $mode ('start', 'current') {
        ($text, $written, @w) = ($c->{text}, undef);
        my $out = {};
        eval {
            my $conf = PVE::QemuConfig->load_config($vmid);
            my $resume = PVE::QemuConfig->has_lock($conf, 'suspended') || defined($conf->{vmstate});
            if ($mode eq 'start' && !$resume && scalar(keys %{ $conf->{pending} })) {
                PVE::QemuServer::vmconfig_apply_pending($vmid, $conf, $storecfg);
                $conf = PVE::QemuConfig->load_config($vmid);
            }
            $out->{volumes} = PVE::QemuServer::get_current_vm_volumes($storecfg, $conf);
            $out->{ostype} = $conf->{ostype};
        };
        die "$c->{name} ($mode): $@" if $@;
        $out->{warnings} = [sort map { $norm->($_) } @w];
        $res->{ $c->{name} }->{$mode} = $out;
    }
}
print JSON::PP->new->canonical->pretty->encode($res);
PERL

bash "$here/scripts/upstream-perl.sh" "$st" "$co" -I"$qs/src" -I"$gc/src" -I"$work" -MStubAll "$work/start.pl" \
    "$here/core/tests/data/guests.cfg" "$here/core/tests/data/guests.json" \
    >"$here/core/tests/data/guests.upstream.json"
echo "wrote core/tests/data/guests.upstream.json"
