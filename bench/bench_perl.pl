#!/usr/bin/perl
# verify_hints calls/s through XS against a straightforward pure-Perl
# implementation of the same rules (written here, for comparison only), and
# the XS call overhead of is_hint_supported.
# Run: perl Makefile.PL && make && perl -Mblib bench/bench_perl.pl
use strict;
use warnings;
use Time::HiRes qw(time);
use Scalar::Util qw(blessed reftype);

use PVE::Storage::XS;

my $props = $PVE::Storage::XS::hints_properties;

# The same rules in plain Perl, as PVE::JSONSchema applies them to hints.
sub pp_verify_hints {
    my ($hints, $noerr) = @_;
    return if !defined($hints);
    my %err;
    my $add = sub { my ($p, $m) = @_; $p = '_root' if !$p; $err{$p} = defined($err{$p}) ? "$err{$p}\\n$m" : $m };
    if (ref($hints) ne 'HASH') {
        $add->(undef, "type check ('object') failed");
    } else {
        for my $k (keys %$hints) {
            my $v = $hints->{$k};
            if (!$props->{$k}) {
                $add->($k, 'property is not defined in schema and the schema does not allow additional properties');
                next;
            }
            next if !defined($v);
            if (my $rt = ref($v)) {
                next if blessed($v) && $v->isa('JSON::PP::Boolean');
                $add->($k, "type check ('boolean') failed - got $rt");
            } elsif ($v ne '1' && $v ne '0') {
                $add->($k, "type check ('boolean') failed - got '$v'");
            }
        }
    }
    return $hints if !%err;
    return if $noerr;
    die "internal error - hints are not valid: 400 Parameter verification failed.\n"
        . join('', map { "$_: $err{$_}\n" } sort keys %err);
}

sub rate {
    my ($code, $n) = @_;
    my $best = 0;
    for (1 .. 3) {
        my $t0 = time;
        $code->() for 1 .. $n;
        my $r = $n / (time - $t0);
        $best = $r if $r > $best;
    }
    return $best;
}

my $n = shift // 300_000;
my $valid = { 'guest-is-windows' => 1, 'plugin-may-deactivate-volume' => 1 };
my $invalid = { 'guest-is-windows' => 'yes', 'no-such-hint' => 1 };

my $xs_valid = rate(sub { PVE::Storage::XS::verify_hints($valid) }, $n);
my $pp_valid = rate(sub { pp_verify_hints($valid) }, $n);
my $xs_invalid = rate(sub { eval { PVE::Storage::XS::verify_hints($invalid) } }, $n / 3);
my $pp_invalid = rate(sub { eval { pp_verify_hints($invalid) } }, $n / 3);
my $xs_hint = rate(sub { PVE::Storage::XS::is_hint_supported('guest-is-windows') }, $n * 3);
my $pp_hint = rate(sub { defined($props->{'guest-is-windows'}) }, $n * 3);
my $empty = rate(sub { }, $n * 3);

printf "verify_hints valid 2 keys:   XS %9.0f/s   pure Perl %9.0f/s   (x%.2f)\n", $xs_valid, $pp_valid, $xs_valid / $pp_valid;
printf "verify_hints invalid (eval): XS %9.0f/s   pure Perl %9.0f/s   (x%.2f)\n", $xs_invalid, $pp_invalid, $xs_invalid / $pp_invalid;
printf "is_hint_supported:           XS %9.0f/s   hash lookup %9.0f/s; empty sub call %9.0f/s\n", $xs_hint, $pp_hint, $empty;
printf "XS call overhead of is_hint_supported: %.0f ns/call (%.0f ns above an empty Perl sub call)\n",
    1e9 / $xs_hint, 1e9 / $xs_hint - 1e9 / $empty;

printf "verify_hints valid, as a multiple of is_hint_supported: %.2f (target <= 3.5)\n", $xs_hint / $xs_valid;

# activate_volumes of one volume: its cost must not depend on the size of
# the configuration (only the storages the volumes name are converted)
use File::Temp qw(tempdir);
my $dir = tempdir(CLEANUP => 1);
mkdir "$dir/images";
mkdir "$dir/images/100";
open(my $fh, '>', "$dir/images/100/vm-100-disk-0.raw") or die $!;
close($fh);
use Sys::Hostname;
my $node = (split(/\./, hostname()))[0];
my $mkcfg = sub {
    my ($n) = @_;
    my $cfg = { ids => {}, order => {} };
    for my $i (1 .. $n) {
        $cfg->{ids}->{"s$i"} = { type => 'dir', path => $i == 1 ? $dir : "/nonexistent/$i",
            content => { images => 1, iso => 1, vztmpl => 1 }, shared => 0, 'create-base-path' => 0,
            nodes => { $node => 1, map { ("node$_" => 1) } 1 .. 4 } };
        $cfg->{order}->{"s$i"} = $i;
    }
    return $cfg;
};
my ($one, $many) = ($mkcfg->(1), $mkcfg->(1000));
my $act = sub { my ($cfg) = @_; PVE::Storage::XS::activate_volumes($cfg, ['s1:100/vm-100-disk-0.raw']) };
my $r1 = rate(sub { $act->($one) }, 2000);
my $r1000 = rate(sub { $act->($many) }, 2000);
printf "activate_volumes, 1 volume: %.0f/s with 1 storage, %.0f/s with 1000; cost ratio %.2f (target <= 1.5)\n",
    $r1, $r1000, $r1 / $r1000;
