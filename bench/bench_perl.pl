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
