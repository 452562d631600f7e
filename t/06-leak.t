#!/usr/bin/perl
# 200k verify_hints calls (valid and invalid, with eval): the process must
# not grow by 2 MiB or more.
use strict;
use warnings;
use Test::More;

use PVE::Storage::XS qw(verify_hints);

sub rss_kib {
    open(my $fh, '<', "/proc/self/status") or return undef;
    while (<$fh>) { return $1 if /^VmRSS:\s+(\d+)\s+kB/ }
    return undef;
}

plan skip_all => 'no /proc/self/status on this system' if !defined(rss_kib());

my $valid = { 'guest-is-windows' => 1, 'plugin-may-deactivate-volume' => 0 };
my $invalid = { 'guest-is-windows' => 'yes', bogus => [1], '' => sub { } };
my $cyclic = {};
$cyclic->{me} = $cyclic;

my $run = sub {
    my ($n) = @_;
    for my $i (1 .. $n) {
        verify_hints($valid);
        eval { verify_hints($invalid) };
        verify_hints($invalid, 1);
        eval { verify_hints($cyclic) } if $i % 10 == 0;
    }
};

$run->(5000);   # warm up: arenas, caches
my $before = rss_kib();
$run->(50_000); # 4 calls per round: 200k calls, plus cyclic ones
my $after = rss_kib();
my $grew = $after - $before;
note("RSS before $before KiB, after $after KiB, grew $grew KiB");
cmp_ok($grew, '<', 2048, "RSS grew by less than 2 MiB over 200k calls ($grew KiB)");
like($@, qr/recursive cycles/, 'the last call did fail as expected');

$cyclic->{me} = undef;
done_testing();
