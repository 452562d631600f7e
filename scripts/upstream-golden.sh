#!/bin/bash
# Regenerate core/tests/data/*.upstream.json: what upstream's own storage.cfg
# parser (PVE::Storage::Plugin->parse_config, pve-storage + pve-common)
# makes of each core/tests/data/*.cfg.  The tests compare our parser with
# these files, so "parses as upstream does" is checked in CI, where the
# upstream sources are not present.
#
#   scripts/upstream-golden.sh PVE_STORAGE_CHECKOUT PVE_COMMON_CHECKOUT
#
# Upstream's modules run through scripts/upstream-perl.sh, which stubs what
# they need of a Proxmox node and the parser never uses.  Perl's own
# diagnostics that upstream's code triggers ("Use of uninitialized value",
# "Exiting subroutine via next") are left out of the warnings: they are
# noise of Perl, not messages.
set -euo pipefail
storage=${1:?usage: $0 PVE_STORAGE_CHECKOUT PVE_COMMON_CHECKOUT}
common=${2:?usage: $0 PVE_STORAGE_CHECKOUT PVE_COMMON_CHECKOUT}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat >"$work/parse.pl" <<'PERL'
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
    bash "$here/scripts/upstream-perl.sh" "$storage" "$common" "$work/parse.pl" \
        <"$cfg" >"${cfg%.cfg}.upstream.json"
    echo "wrote ${cfg%.cfg}.upstream.json"
done
