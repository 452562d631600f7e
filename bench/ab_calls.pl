#!/usr/bin/perl
# One side of bench/bench_ab.sh: calls/s of verify_hints and
# activate_volumes through the PVE::Storage::XS found on @INC (-Mblib of
# one build), printed as "NAME RATE" lines.
use strict;
use warnings;
use Time::HiRes qw(time);
use File::Temp qw(tempdir);
use Sys::Hostname;

use PVE::Storage::XS;

sub rate {
    my ($code, $n) = @_;
    my $best = 0;
    for (1 .. 5) {
        my $t0 = time;
        $code->() for 1 .. $n;
        my $r = $n / (time - $t0);
        $best = $r if $r > $best;
    }
    return $best;
}

my $n = shift // 200_000;
my $valid = { 'guest-is-windows' => 1, 'plugin-may-deactivate-volume' => 1 };
my $invalid = { 'guest-is-windows' => 'yes', 'no-such-hint' => 1 };
my $d = tempdir(CLEANUP => 1);
mkdir "$d/images";
mkdir "$d/images/100";
open(my $fh, '>', "$d/images/100/vm-100-disk-0.raw") or die "$!\n";
close($fh);
my ($node) = split(/\./, hostname());
my $cfg = { ids => { s1 => { type => 'dir', path => $d, content => { images => 1 }, shared => 0,
                             nodes => { $node => 1 } } } };
my @vol = ('s1:100/vm-100-disk-0.raw');

printf("perl_verify_hints_valid %.0f\n", rate(sub { PVE::Storage::XS::verify_hints($valid) }, $n));
printf("perl_verify_hints_invalid %.0f\n", rate(sub { PVE::Storage::XS::verify_hints($invalid, 1) }, $n));
printf("perl_activate_volumes %.0f\n", rate(sub { PVE::Storage::XS::activate_volumes($cfg, \@vol) }, $n / 100));
printf("perl_activate_volumes_hints %.0f\n",
       rate(sub { PVE::Storage::XS::activate_volumes($cfg, \@vol, undef, $valid) }, $n / 100));
