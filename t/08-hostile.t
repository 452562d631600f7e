#!/usr/bin/perl
# Hostile input through the Perl binding: values that die while being read
# (no leak), the caller's hash iterators (never reset), shared and deep
# structures (linear), non-UTF-8 bytes, files that are not files, and Perl
# code (a __WARN__ handler) calling back into the module during a call.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use POSIX qw(mkfifo);

use PVE::Storage::XS qw(verify_hints read_config parse_config configure settings path
                        activate_volumes);

my $gw = 'guest-is-windows';
my $HDR = "internal error - hints are not valid: 400 Parameter verification failed.\n";

sub rss_kib {
    open(my $fh, '<', "/proc/self/status") or return undef;
    while (<$fh>) { return $1 if /^VmRSS:\s+(\d+)\s+kB/ }
    return undef;
}

# run $code in a child with a time limit: a hang fails instead of stalling
sub within {
    my ($secs, $code) = @_;
    my $pid = fork() // die "fork: $!";
    if (!$pid) {
        alarm($secs);
        my $ok = eval { $code->(); 1 };
        POSIX::_exit($ok ? 0 : 1);
    }
    waitpid($pid, 0);
    return $? == 0;
}

{
    package Dying::Hash;
    sub TIEHASH { bless {}, shift }
    sub FETCH { die "FETCH died\n" }
    sub FIRSTKEY { 'guest-is-windows' }
    sub NEXTKEY { undef }
    sub EXISTS { 1 }
}

# a value that dies while it is converted frees what was converted so far
{
    tie my %dying, 'Dying::Hash';
    my $hints = { $gw => 1, nested => { a => [1, 2, 3], b => \%dying } };
    my $run = sub {
        for (1 .. $_[0]) {
            eval { verify_hints({ $gw => 1, x => [ { %$hints }, \%dying ] }) };
        }
    };
    $run->(2000);
    like($@, qr/^FETCH died/, 'the FETCH die is the call\'s error');
  SKIP: {
        skip 'RSS check not meaningful under valgrind or without /proc', 1
            if $ENV{PVS_UNDER_VALGRIND} || !defined(rss_kib());
        my $before = rss_kib();
        $run->(100_000);
        my $grew = rss_kib() - $before;
        cmp_ok($grew, '<', 2048, "100k dying conversions: RSS grew $grew KiB (< 2 MiB)");
    }
}

# the caller's each() goes on where it was
{
    my $dir = tempdir(CLEANUP => 1);
    my $cfg = { ids => { map { ("s$_" => { type => 'dir', path => "$dir/$_", content => { images => 1 } }) } 1 .. 20 } };
    my ($seen, $guard) = (0, 0);
    while (my ($id, $scfg) = each %{ $cfg->{ids} }) {
        last if ++$guard > 100;
        $seen++;
        path($cfg, "$id:100/vm-100-disk-0.raw");
        verify_hints({ $gw => 1 });
        my $sec = $cfg->{ids}->{$id};
        eval { PVE::Storage::XS::Plugin::Dir->path($sec, '100/vm-100-disk-0.raw', $id) };
    }
    is($guard, 20, 'each() over the ids ends after 20 storages');
    is($seen, 20, 'every storage seen once');
    my %h = (a => 1, b => 2, c => 3);
    my ($k1) = each %h;
    eval { verify_hints({ $gw => [\%h] }) };   # converted while an each() is under way
    like($@, qr/got ARRAY/, 'converted (and rejected)');
    my @rest;
    while (my ($k) = each %h) { push @rest, $k }
    is(scalar(@rest), 2, 'an each() under way goes on after its hash was converted');
    my $n = 0;
    while (my ($k) = each %h) { $n++ }
    is($n, 3, 'and starts over after it ended');
}

# shared sub-structures: 2**64 paths, 64 distinct arrays
{
    my $ok = within(30, sub {
        my $x = [0];
        $x = [$x, $x] for 1 .. 64;
        eval { verify_hints({ $gw => $x }) };
        die "unexpected: $@" if $@ ne "${HDR}$gw: type check ('boolean') failed - got ARRAY\n";
        my $d = { type => 'dir', path => '/nonexistent', content => { images => 1 } };
        $d = { type => 'dir', path => '/nonexistent', a => $d, b => $d } for 1 .. 64;
        path({ ids => { s1 => $d } }, 's1:100/vm-100-disk-0.raw');
    });
    ok($ok, 'a structure sharing sub-structures is converted in linear time');
    my $shared = { k => 1 };
    eval { verify_hints({ $gw => [$shared, $shared] }) };
    is($@, "${HDR}$gw: type check ('boolean') failed - got ARRAY\n", 'shared is not a cycle');
    my $loop = [$shared];
    push @$loop, [$loop];
    eval { verify_hints({ $gw => $loop }) };
    is($@, "${HDR}_root: data structure contains recursive cycles\n", 'a cycle below a shared node is');
    $loop->[1] = undef;
}

# configure from a __WARN__ handler during a call: no lock is held
{
    my $dir = tempdir(CLEANUP => 1);
    open(my $fh, '>', "$dir/storage.cfg") or die $!;
    print $fh "dir: a1\n\tpath /a\n\tfrob 1\n";
    close($fh);
    my $before = settings();
    my @seen;
    my $ok = within(30, sub {
        local $SIG{__WARN__} = sub { configure(ceph_timeout => 7); push @seen, @_ };
        my $cfg = read_config("$dir/storage.cfg");
        die "no warning" if @seen != 1;
        die "not configured" if settings()->{ceph_timeout} ne '7';
    });
    ok($ok, 'configure() from a __WARN__ handler during a call');
    eval { configure(ceph_timeout => 9, kernel_version => 'x') };
    like($@, qr/^invalid value for setting 'kernel_version'/, 'a bad value fails');
    is_deeply(settings(), $before, 'and changes nothing (all or nothing, in the core)');
}

# files that are not files
{
    my $dir = tempdir(CLEANUP => 1);
    mkfifo("$dir/fifo", 0600) or die "mkfifo: $!";
    for my $p ("$dir/fifo", '/dev/zero', $dir) {
        my $msg;
        my $ok = within(30, sub {
            eval { read_config($p) };
            die "got: $@" if $@ ne "unable to read '$p' - not a regular file\n";
        });
        ok($ok, "read_config('$p') refuses at once: not a regular file");
    }
    open(my $fh, '>', "$dir/big.cfg") or die $!;
    truncate($fh, 17 << 20);
    close($fh);
    eval { read_config("$dir/big.cfg") };
    is($@, "unable to read '$dir/big.cfg' - file too large\n", 'a 17 MiB storage.cfg is refused');
}

# Latin-1 bytes in a configuration line reach the warning as the same characters
{
    my @w;
    local $SIG{__WARN__} = sub { push @w, @_ };
    my $cfg = parse_config("dir: a1\n\tpath /a\n\tcaf\xe9 1\n");
    is(scalar(@w), 1, 'one warning');
    like($w[0], qr/unable to parse value of 'caf\x{e9}'/, 'the Latin-1 key is in it');
    is_deeply([sort keys %{ $cfg->{ids} }], ['a1', 'local'], 'the section stays (beside the implicit local)');
}

done_testing();
