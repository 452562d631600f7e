#!/usr/bin/perl
# fake-rbd, the emulation the other suites use where no rbd module exists,
# against Linux's own rbd driver (the test guest): the same map by both gives
# the same sysfs files, modes and values, the same device node shape, and the
# same refusals (an unknown option, a value the kernel refuses, an open
# device).  Values that differ per client are compared by their shape.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use Cwd qw(abs_path);
use FindBin;
use lib "$FindBin::Bin/../lib";
use PVSTestCeph;
use POSIX ();

plan skip_all => 'SKIP: not in the test guest (/run/pvestorage-test-guest is absent; scripts/test-kernel.sh runs this there)'
    if !-e '/run/pvestorage-test-guest';
plan skip_all => 'SKIP: this kernel has no rbd driver (/sys/bus/rbd is absent)' if !-d '/sys/bus/rbd';
plan skip_all => 'SKIP: PVS_TEST_CEPH_ENV names no test cluster' if !$ENV{PVS_TEST_CEPH_ENV};
my $top = abs_path("$FindBin::Bin/../..");
my $fake = $ENV{PVS_FAKE_RBD} // "$top/build/core/tests/fake-rbd";
plan skip_all => "SKIP: $fake is not built (run scripts/build.sh)" if !-x $fake;

my %ceph = PVSTestCeph::read_env($ENV{PVS_TEST_CEPH_ENV});
my $root = tempdir(CLEANUP => 1);
my @conn = ('-c', $ceph{CEPH_TEST_CONF}, '--keyring', $ceph{CEPH_TEST_KEYRING}, '-p', 'rbd');

sub run {   # (exit status, stdout, stderr)
    my @cmd = @_;
    my ($out, $err) = ("$root/.out", "$root/.err");
    my $pid = fork() // die;
    if (!$pid) { open(STDOUT, '>', $out); open(STDERR, '>', $err); exec(@cmd) or POSIX::_exit(127) }
    waitpid($pid, 0);
    my $rc = $? >> 8;
    local $/;
    open(my $o, '<', $out); my $so = <$o> // '';
    open(my $e, '<', $err); my $se = <$e> // '';
    return ($rc, $so, $se);
}
sub slurp { my ($p) = @_; open(my $fh, '<', $p) or return undef; local $/; my $v = <$fh>; $v }
sub attrs {   # name => [mode, value] of the regular files of a device directory
    my ($dir) = @_;
    opendir(my $dh, $dir) or die "$dir: $!";
    my %a;
    for my $f (grep { -f "$dir/$_" && !-l "$dir/$_" } readdir($dh)) {
        my $mode = sprintf('%o', (stat("$dir/$f"))[2] & 07777);
        $a{$f} = [$mode, $mode =~ /^[46]/ ? slurp("$dir/$f") : undef];
    }
    return \%a;
}
sub node { my ($p) = @_; my @st = stat($p) or return 'missing'; my $r = $st[6];
    return sprintf('%s %d:%d', -b $p ? 'block' : 'other', ($r >> 8) & 0xfff, ($r & 0xff) | (($r >> 12) & ~0xff)) }

my $image = "fake-agrees-$$";
(run('rbd', @conn, 'create', '--size', '8M', '--image-feature', 'layering,exclusive-lock', $image))[0] == 0 or die;
run('rbd', @conn, 'snap', 'create', '--no-progress', "$image\@s1");
run('rbd', @conn, 'namespace', 'create', '--namespace', 'ns1');
run('rbd', @conn, '--namespace', 'ns1', 'create', '--size', '8M', '--image-feature', 'layering', $image);

my $major = slurp('/proc/devices') =~ /^\s*(\d+) rbd$/m ? $1 : die 'no rbd major';
local $ENV{FAKE_RBD_ROOT} = $root;
local $ENV{FAKE_RBD_FSID} = $ceph{CEPH_TEST_FSID};
local $ENV{FAKE_RBD_MAJOR} = $major;
local $ENV{FAKE_RBD_NO_PVE_LINK} = '1';   # the guest's udev makes the real ones

my %shape = (client_id => qr/^client\d+\n\z/, client_addr => qr/^127\.0\.0\.1:0\/\d+\n\z/, pool_id => qr/^\d+\n\z/);
for my $case (['plain', [], $image], ['rxbounce', ['--options', 'rxbounce'], $image],
              ['snapshot', [], "$image\@s1"], ['namespace', ['--namespace', 'ns1'], $image, ['--options', 'rxbounce']]) {
    my ($what, $pre, $spec, $post) = @$case;
    my @real = run('rbd', @conn, @$pre, 'map', $spec, @{ $post // [] });
    my @fake = run($fake, @conn, @$pre, 'map', $spec, @{ $post // [] });
    is($real[0], 0, "$what: the kernel maps it") or diag($real[2]);
    is($fake[0], 0, "$what: fake-rbd maps it") or diag($fake[2]);
    my ($rid) = $real[1] =~ m{^/dev/rbd(\d+)$}m;
    my ($fid) = $fake[1] =~ m{^/dev/rbd(\d+)$}m;
    my ($r, $f) = (attrs("/sys/devices/rbd/$rid"), attrs("$root/sys/devices/rbd/$fid"));
    is_deeply([sort keys %$f], [sort keys %$r], "$what: the same attribute files");
    is_deeply({ map { $_ => $f->{$_}[0] } keys %$f }, { map { $_ => $r->{$_}[0] } keys %$r }, "$what: the same modes");
    for my $k (sort keys %$r) {
        next if !defined $r->{$k}[1];
        if ($k eq 'minor') {
            is($f->{$k}[1], ($fid * 16) . "\n", "$what: fake minor = N * 16");
            is($r->{$k}[1], ($rid * 16) . "\n", "$what: kernel minor = N * 16");
        } elsif ($shape{$k} || ($k eq 'snap_id' && $spec =~ /\@/)) {   # a snapshot's ID: the cluster's count
            my $want = $shape{$k} // qr/^\d+\n\z/;
            like($f->{$k}[1] // '', $want, "$what: $k has the kernel's shape");
            like($r->{$k}[1], $want, "$what: kernel $k as expected");
        } else {
            is($f->{$k}[1], $r->{$k}[1], "$what: $k equal");
        }
    }
    is(node("$root/dev/rbd$fid") =~ s/:(\d+)$/':' . $1 \/ 16/er, node("/dev/rbd$rid") =~ s/:(\d+)$/':' . $1 \/ 16/er,
       "$what: the same device node (type, major, minor / 16)");
    is(slurp("$root/sys/block/rbd$fid/ro"), slurp("/sys/block/rbd$rid/ro"), "$what: read-only alike");
    # an open device refuses to unmap, on both
    open(my $hr, '<', "/dev/rbd$rid") or die;
    open(my $hf, '<', "$root/dev/rbd$fid") or die;
    my @ru = run('rbd', @conn, 'unmap', "/dev/rbd$rid");
    my @fu = run($fake, @conn, 'unmap', "/dev/rbd$fid");
    is_deeply([@fu[0, 2]], [@ru[0, 2]], "$what: open: the same refusal ($ru[0])");
    close($hr);
    close($hf);
    is((run('rbd', @conn, 'unmap', "/dev/rbd$rid"))[0], 0, "$what: closed: the kernel unmaps");
    is((run($fake, @conn, 'unmap', "/dev/rbd$fid"))[0], 0, "$what: closed: fake-rbd unmaps");
    ok(!-e "/sys/devices/rbd/$rid" && !-e "$root/sys/devices/rbd/$fid", "$what: gone from both");
}

# refusals: an option rbd does not know, a value the kernel refuses
for my $opt ('bogus', 'queue_depth=0') {
    my @real = run('rbd', @conn, 'map', $image, '--options', $opt);
    my @fake = run($fake, @conn, 'map', $image, '--options', $opt);
    is_deeply([@fake[0, 2]], [@real[0, 2]], "--options $opt: the same exit status and message ($real[0])");
}

# two maps with the same options share one kernel client; other options do not
my @ids = map { (run('rbd', @conn, 'map', $image, @$_))[1] =~ m{/dev/rbd(\d+)} } ([], [], ['--options', 'rxbounce']);
my @fids = map { (run($fake, @conn, 'map', $image, @$_))[1] =~ m{/dev/rbd(\d+)} } ([], [], ['--options', 'rxbounce']);
my @rc = map { slurp("/sys/devices/rbd/$_/client_id") } @ids;
my @fc = map { slurp("$root/sys/devices/rbd/$_/client_id") } @fids;
ok($rc[0] eq $rc[1] && $rc[0] ne $rc[2], 'kernel: same options, one client; other options, another');
ok($fc[0] eq $fc[1] && $fc[0] ne $fc[2], 'fake-rbd: the same');
run('rbd', @conn, 'unmap', "/dev/rbd$_") for @ids;
run($fake, @conn, 'unmap', "/dev/rbd$_") for @fids;

run('rbd', @conn, 'snap', 'purge', '--no-progress', $image);
run('rbd', @conn, 'rm', '--no-progress', $image);
run('rbd', @conn, '--namespace', 'ns1', 'rm', '--no-progress', $image);
done_testing();
