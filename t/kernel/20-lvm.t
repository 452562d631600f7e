#!/usr/bin/perl
# PVE::Storage::XS on the real kernel's device-mapper (the test guest, see
# scripts/test-kernel.sh): a node's local-lvm (a thin pool) and an lvm
# storage on loop devices, activated, deactivated, measured and listed
# from Perl, each checked against what lvm itself says.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);

use PVE::Storage::XS qw(activate_volumes deactivate_volumes deactivate_storage path storage_status list_volumes);

plan skip_all => 'SKIP: not in the test guest (/run/pvestorage-test-guest is absent; scripts/test-kernel.sh runs this there)'
    if !-e '/run/pvestorage-test-guest';
plan skip_all => 'SKIP: this kernel has no device-mapper (/dev/mapper/control is absent)' if !-e '/dev/mapper/control';

sub run { my $out = `@{[ join ' ', map { "'$_'" } @_ ]} 2>&1`; die "@_: $out" if $?; return $out }
sub active { my ($vg, $lv) = @_; return substr((split ' ', run('lvs', '--noheadings', '-o', 'lv_attr', "$vg/$lv"))[0], 4, 1) eq 'a' }

my $dir = tempdir(CLEANUP => 1);
my @loops;
for my $n (qw(thin plain)) {
    run('truncate', '-s', '320M', "$dir/$n.img");
    chomp(my $dev = run('losetup', '-f', '--show', "$dir/$n.img"));
    push @loops, $dev;
}
END {
    system("vgremove -q -f plthin plplain >/dev/null 2>&1");
    system('losetup', '-d', $_) for @loops;
}
run('pvcreate', '-q', @loops);
run('vgcreate', '-q', 'plthin', $loops[0]);
run('vgcreate', '-q', 'plplain', $loops[1]);
run('lvcreate', '-q', '-L', '192M', '-T', 'plthin/data');
run('lvcreate', '-q', '-V', '32M', '-T', 'plthin/data', '-n', $_) for qw(vm-300-disk-0 vm-301-disk-0);
run('lvcreate', '-q', '-L', '24M', '-n', 'vm-400-disk-0', 'plplain');
run('vgchange', '-q', '-an', 'plthin', 'plplain');

my $cfg = PVE::Storage::XS::parse_config("lvmthin: thin\n\tthinpool data\n\tvgname plthin\n\n"
                                         . "lvm: plain\n\tvgname plplain\n\tcontent images\n");

activate_volumes($cfg, ['thin:vm-300-disk-0', 'plain:vm-400-disk-0']);
ok(active('plthin', 'data') && active('plthin', 'vm-300-disk-0'), 'the thin pool and its volume are active');
ok(!active('plthin', 'vm-301-disk-0'), 'a volume not asked for is not');
ok(active('plplain', 'vm-400-disk-0'), 'the lvm volume is active');
ok(-b path($cfg, 'thin:vm-300-disk-0'), 'its path is the block device');

deactivate_volumes($cfg, ['thin:vm-300-disk-0', 'plain:vm-400-disk-0']);
ok(active('plthin', 'vm-300-disk-0'), 'a thin volume stays active, as upstream keeps it');
ok(!active('plplain', 'vm-400-disk-0') && !-e '/dev/plplain/vm-400-disk-0', 'the lvm volume is deactivated');

my %st = map { $_->{storage} => $_ } @{ storage_status($cfg) };
is($st{thin}{total}, 192 * 1024 * 1024, 'the pool\'s size');
ok($st{thin}{active} && $st{plain}{active}, 'both storages are active');
my @vg = split ' ', run('vgs', '--noheadings', '--units', 'b', '--nosuffix', '-o', 'vg_size,vg_free', 'plplain');
is_deeply([$st{plain}{total}, $st{plain}{avail}], [0 + $vg[0], 0 + $vg[1]], 'the volume group\'s size and free space');
is_deeply([map { [$_->{volid}, $_->{size}] } @{ list_volumes($cfg, 'thin') }],
          [['thin:vm-300-disk-0', 32 * 1024 * 1024], ['thin:vm-301-disk-0', 32 * 1024 * 1024]], 'the list');

eval { activate_volumes($cfg, ['thin:vm-300-disk-7']) };
is("$@", "no such logical volume plthin/vm-300-disk-7\n", 'a missing volume is named');

deactivate_storage($cfg, 'thin');
ok(!active('plthin', 'data') && !active('plthin', 'vm-300-disk-0'), 'deactivate_storage: the whole group');
done_testing();
