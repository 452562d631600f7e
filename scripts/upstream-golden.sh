#!/bin/bash
# Regenerate core/tests/data/*.upstream.json: what upstream's own storage.cfg
# parser (PVE::Storage::Plugin->parse_config, pve-storage + pve-common)
# makes of each core/tests/data/*.cfg.  The tests compare our parser with
# these files, so "parses as upstream does" is checked in CI, where the
# upstream sources are not present.
#
#   scripts/upstream-golden.sh PVE_STORAGE_CHECKOUT PVE_COMMON_CHECKOUT
#
# Upstream's modules need much of a Proxmox node (pmxcfs, RADOS, D-Bus...)
# to load, none of it used by the parser: those modules are stubbed in a
# temporary directory.  Perl's own diagnostics that upstream's code
# triggers ("Use of uninitialized value", "Exiting subroutine via next")
# are left out of the warnings: they are noise of Perl, not messages.
set -euo pipefail
storage=${1:?usage: $0 PVE_STORAGE_CHECKOUT PVE_COMMON_CHECKOUT}
common=${2:?usage: $0 PVE_STORAGE_CHECKOUT PVE_COMMON_CHECKOUT}
here=$(cd "$(dirname "$0")/.." && pwd)
stubs=$(mktemp -d)
trap 'rm -rf "$stubs"' EXIT

stub() {   # stub MODULE [BODY]: a module whose functions all return 1
    local file="$stubs/first/${1//:://}.pm"
    mkdir -p "$(dirname "$file")"
    cat >"$file" <<PERL
package $1;
sub import { my \$c = caller(); no strict 'refs';
    for my \$n (@_[1 .. \$#_]) { next if \$n =~ /^[:\\-]/; *{"\${c}::\$n"} = sub { 1 } } }
our \$AUTOLOAD; sub AUTOLOAD { return 1 }
${2:-}
1;
PERL
}
for m in Encode::Locale URI::Escape Net::IP Date::Format Filesys::Df String::ShellQuote \
    PVE::Cluster XML::LibXML PVE::DataCenterConfig Clone Linux::Inotify2 PVE::RPCEnvironment \
    PVE::SSHInfo AnyEvent NetAddr::IP PVE::RADOS Net::DBus Net::DBus::Callback \
    Net::DBus::Reactor HTTP::Request LWP::UserAgent POSIX::strptime PVE::APIClient::LWP; do
    stub "$m"
done
stub PVE::INotify 'sub nodename { "pve1" }'
mkdir -p "$stubs/first/HTTP" "$stubs/first/Devel" "$stubs/first/File"
cat >"$stubs/first/HTTP/Status.pm" <<'PERL'
package HTTP::Status;
use Exporter 'import';
our @EXPORT_OK = qw(HTTP_BAD_REQUEST HTTP_UNAUTHORIZED HTTP_FORBIDDEN HTTP_NOT_FOUND
    HTTP_INTERNAL_SERVER_ERROR);
our %EXPORT_TAGS = (constants => \@EXPORT_OK);
sub HTTP_BAD_REQUEST {400} sub HTTP_UNAUTHORIZED {401} sub HTTP_FORBIDDEN {403}
sub HTTP_NOT_FOUND {404} sub HTTP_INTERNAL_SERVER_ERROR {500}
1;
PERL
echo 'package Devel::Cycle; sub import { no strict "refs"; *{caller() . "::find_cycle"} = sub {} } 1;' \
    >"$stubs/first/Devel/Cycle.pm"
echo 'package File::chdir; our $CWD; sub import { no strict "refs"; *{caller() . "::CWD"} = \$CWD } 1;' \
    >"$stubs/first/File/chdir.pm"

cat >"$stubs/parse.pl" <<'PERL'
use strict; use warnings;
use PVE::Storage;
use JSON::PP;
my $raw = do { local $/; <STDIN> };
my @w;
local $SIG{__WARN__} = sub {
    push @w, $_[0] if $_[0] !~ /^(Use of uninitialized value|Exiting subroutine via next)/;
};
my $cfg = PVE::Storage::Plugin->parse_config('/etc/pve/storage.cfg', $raw);
print JSON::PP->new->canonical->pretty->encode(
    { ids => $cfg->{ids}, order => $cfg->{order}, warnings => \@w });
PERL

for cfg in "$here"/core/tests/data/*.cfg; do
    perl -I"$stubs/first" -I"$storage/src" -I"$common/src" "$stubs/parse.pl" \
        <"$cfg" >"${cfg%.cfg}.upstream.json"
    echo "wrote ${cfg%.cfg}.upstream.json"
done
