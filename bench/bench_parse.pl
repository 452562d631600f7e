#!/usr/bin/perl
# storage.cfg parsing: upstream's PVE::Storage::Plugin->parse_config against
# PVE::Storage::XS::parse_config, on the same file, in one process:
#
#   bash scripts/build.sh
#   bash scripts/upstream-perl.sh PVE_STORAGE PVE_COMMON -Mblib bench/bench_parse.pl [N] [FILE]
#
# FILE defaults to core/tests/data/node.cfg (a node with every storage
# type).  The two results are compared first: a benchmark of different
# answers would mean nothing.
use strict;
use warnings;
use JSON::PP;
use Time::HiRes qw(time);

use PVE::Storage;        # upstream's, through scripts/upstream-perl.sh
use PVE::Storage::XS;

my $n = shift // 2000;
my $file = shift // 'core/tests/data/node.cfg';
my $raw = do { open(my $fh, '<', $file) or die "$file: $!\n"; local $/; <$fh> };

my $json = JSON::PP->new->canonical;
my $up = PVE::Storage::Plugin->parse_config('/etc/pve/storage.cfg', $raw);
my $xs = PVE::Storage::XS::parse_config($raw, '/etc/pve/storage.cfg');
die "the parsers disagree on $file\n"
    if $json->encode({ ids => $up->{ids}, order => $up->{order} }) ne $json->encode($xs);

sub rate {
    my ($code) = @_;
    my $t0 = time();
    $code->() for 1 .. $n;
    return (time() - $t0) / $n;
}
my $t_up = rate(sub { PVE::Storage::Plugin->parse_config('/etc/pve/storage.cfg', $raw) });
my $t_xs = rate(sub { PVE::Storage::XS::parse_config($raw, '/etc/pve/storage.cfg') });
my $sections = scalar(keys %{ $xs->{ids} });
printf "%s (%d sections), %d parses each\n", $file, $sections, $n;
printf "upstream parse_config      %8.1f us/parse\n", $t_up * 1e6;
printf "PVE::Storage::XS           %8.1f us/parse\n", $t_xs * 1e6;
printf "ratio                      %8.1fx\n", $t_up / $t_xs;
