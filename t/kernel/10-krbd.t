#!/usr/bin/perl
# PVE::Storage::XS on Linux's own rbd driver (the test guest, see
# scripts/test-kernel.sh): a Windows guest's volume mapped with rxbounce, a
# plain mapping left alone with Proxmox's warning or remapped when that is
# safe, a snapshot read-only, an open device that refuses to unmap — each
# checked against what the kernel itself says.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/../lib";
use PVSTestCeph;
use File::Path qw(make_path);
use File::Copy qw(copy);
use POSIX ();

use PVE::Storage::XS qw(map_volume unmap_volume activate_volumes);

plan skip_all => 'SKIP: not in the test guest (/run/pvestorage-test-guest is absent; scripts/test-kernel.sh runs this there)'
    if !-e '/run/pvestorage-test-guest';
plan skip_all => 'SKIP: this kernel has no rbd driver (/sys/bus/rbd is absent)' if !-d '/sys/bus/rbd';
plan skip_all => 'SKIP: PVS_TEST_CEPH_ENV names no test cluster' if !$ENV{PVS_TEST_CEPH_ENV};

my %ceph = PVSTestCeph::read_env($ENV{PVS_TEST_CEPH_ENV});
my $fsid = $ceph{CEPH_TEST_FSID};
my @rbd = ('rbd', '-c', $ceph{CEPH_TEST_CONF}, '--keyring', $ceph{CEPH_TEST_KEYRING});

# the guest's own /etc/pve (its writes stay in the guest's overlay)
make_path('/etc/pve/priv/ceph');
copy($ceph{CEPH_TEST_CONF}, '/etc/pve/ceph.conf') or die;
copy($ceph{CEPH_TEST_KEYRING}, '/etc/pve/priv/ceph/ceph.keyring') or die;
my $cfg = PVE::Storage::XS::parse_config("rbd: ceph\n\tpool rbd\n\tkrbd 1\n\tcontent images\n");

sub sysfs { my ($id, $name) = @_; open(my $fh, '<', "/sys/devices/rbd/$id/$name") or return; my $v = <$fh>; chomp $v; $v }
sub devices_of {
    my ($image, $snap) = @_;
    opendir(my $dh, '/sys/devices/rbd') or die;
    my @ids = sort { $a <=> $b } grep { /^\d+$/ } readdir($dh);
    return grep { sysfs($_, 'name') eq $image && sysfs($_, 'current_snap') eq ($snap // '-') } @ids;
}
sub options_of { my ($id) = @_; (split / /, sysfs($id, 'config_info'))[1] }
sub is_device {   # the path is the kernel's block device ID: same node, major and minor
    my ($path, $id, $what) = @_;
    my @st = stat($path);
    my $rdev = $st[6] // -1;
    my ($maj, $min) = (sysfs($id, 'major'), sysfs($id, 'minor'));
    ok(-b $path && ((($rdev >> 8) & 0xfff) | (($rdev >> 32) & ~0xfff)) == $maj
       && (($rdev & 0xff) | (($rdev >> 12) & ~0xff)) == $min, "$what: $path is the block device /dev/rbd$id");
}
sub rbd_ok {   # the real rbd, its progress and output left out
    my $pid = fork() // die "fork: $!";
    if (!$pid) { open(STDOUT, '>', '/dev/null'); exec(@rbd, @_) or POSIX::_exit(127) }
    waitpid($pid, 0);
    $? == 0 or die "rbd @_ failed\n";
}
sub unmap_all { my ($image, $snap) = @_; system(@rbd, 'device', 'unmap', "/dev/rbd$_") for devices_of($image, $snap) }

my $image = "vm-401-disk-$$";
rbd_ok('create', '--size', '8M', '--image-feature', 'layering,exclusive-lock', "rbd/$image");
my $dev = "/dev/rbd-pve/$fsid/rbd/$image";
my $win_safe = { 'guest-is-windows' => 1, 'plugin-may-deactivate-volume' => 1 };

# a Windows guest's unmapped volume: mapped with rxbounce
my $path = map_volume($cfg, "ceph:$image", undef, { 'guest-is-windows' => 1 });
my @ids = devices_of($image);
is(scalar(@ids), 1, 'fresh map: one device');
is($path, $dev, 'fresh map: the rbd-pve path');
is_device($path, $ids[0], 'fresh map');
like(options_of($ids[0]), qr/(^|,)rxbounce(,|$)/, 'fresh map: the kernel got rxbounce');
ok(unmap_volume($cfg, "ceph:$image"), 'unmap_volume');
is_deeply([devices_of($image)], [], 'unmapped: no device left');

# mapped plain (before an upgrade): not safe -> Proxmox's warning, left alone
rbd_ok('device', 'map', "rbd/$image");
my ($plain) = devices_of($image);
{
    my @warnings;
    local $SIG{__WARN__} = sub { push @warnings, $_[0] };
    $path = map_volume($cfg, "ceph:$image", undef, { 'guest-is-windows' => 1 });
    is_deeply(\@warnings, ["not unmapping volume $image to apply rxbounce since it is not safe\n"], 'unsafe: warned');
    is_deeply([devices_of($image)], [$plain], 'unsafe: the same device');
    unlike(options_of($plain), qr/rxbounce/, 'unsafe: still without rxbounce');
    is_device($path, $plain, 'unsafe');
}

# safe: unmapped and mapped again with rxbounce, through activate_volumes
activate_volumes($cfg, ["ceph:$image"], undef, $win_safe);
@ids = devices_of($image);
is(scalar(@ids), 1, 'remap: one device');
like(options_of($ids[0]), qr/(^|,)rxbounce(,|$)/, 'remap: the kernel got rxbounce');
is_device($dev, $ids[0], 'remap');

# an open device refuses to unmap: upstream's message, still mapped
open(my $hold, '<', "/dev/rbd$ids[0]") or die "open /dev/rbd$ids[0]: $!";
eval { unmap_volume($cfg, "ceph:$image") };
is($@, "can't unmap rbd device $dev: rbd: sysfs write failed\n", 'open device: the error');
is_deeply([devices_of($image)], [$ids[0]], 'open device: still mapped');
close($hold);
ok(unmap_volume($cfg, "ceph:$image"), 'closed: unmapped');

# a snapshot maps read-only, with rxbounce for a Windows guest
rbd_ok('snap', 'create', '--no-progress', "rbd/$image\@s1");
$path = map_volume($cfg, "ceph:$image", 's1', { 'guest-is-windows' => 1 });
my ($snap) = devices_of($image, 's1');
is($path, "$dev\@s1", 'snapshot: its path');
is_device($path, $snap, 'snapshot');
open(my $ro, '<', "/sys/block/rbd$snap/ro") or die;
is(scalar(<$ro>), "1\n", 'snapshot: the kernel maps it read-only');
like(options_of($snap), qr/(^|,)rxbounce(,|$)/, 'snapshot: rxbounce');
ok(unmap_volume($cfg, "ceph:$image", 's1'), 'snapshot: unmapped');

unmap_all($image);
unmap_all($image, 's1');
system(@rbd, 'snap', 'purge', '--no-progress', "rbd/$image");
system(@rbd, 'rm', '--no-progress', "rbd/$image");
done_testing();
