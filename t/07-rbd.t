#!/usr/bin/perl
# The rbd plugin through XS against a real Ceph cluster (kernel side emulated
# by fake-rbd): the full hint decision table, called the way Proxmox calls
# plugins, and the faults.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use File::Path qw(make_path remove_tree);
use File::Copy qw(copy);
use Cwd qw(abs_path);
use FindBin;
use lib "$FindBin::Bin/lib";
use PVSTestCeph;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(time);

use PVE::Storage::XS qw(map_volume unmap_volume activate_volumes configure settings);

plan skip_all => 'SKIP: needs root (mknod of the emulated /dev/rbdN block nodes)' if $> != 0;

my $top = abs_path("$FindBin::Bin/..");
my $fake = "$top/build/core/tests/fake-rbd";
plan skip_all => "SKIP: $fake is not built (run scripts/build.sh)" if !-x $fake;
plan skip_all => 'SKIP: ceph-mon/ceph-osd are not installed (run scripts/install-deps.sh)'
    if !$ENV{PVS_TEST_CEPH_ENV} && !(-x '/usr/bin/ceph-mon' && -x '/usr/bin/ceph-osd');

# a cluster: the shared one of scripts/test.sh, or our own
my $own_dir;
my $envfile = $ENV{PVS_TEST_CEPH_ENV};
if (!$envfile || !-f $envfile) {
    $own_dir = tempdir('pvs-perl-ceph-XXXXXX', TMPDIR => 1, CLEANUP => 0);
    rmdir $own_dir;
    $envfile = `bash $top/scripts/ceph-fixture.sh start $own_dir`;
    chomp $envfile;
    die "cannot start a Ceph test cluster\n" if $? != 0;
}
END { system('bash', "$top/scripts/ceph-fixture.sh", 'stop', $own_dir) if $own_dir; }

my %ceph = PVSTestCeph::read_env($envfile);

my $root = tempdir(CLEANUP => 1);
make_path("$root/etc/pve/priv/ceph");
copy($ceph{CEPH_TEST_CONF}, "$root/etc/pve/ceph.conf") or die;
copy($ceph{CEPH_TEST_KEYRING}, "$root/etc/pve/priv/ceph/ceph.keyring") or die;
my $fsid = $ceph{CEPH_TEST_FSID};
my $log = "$root/rbd.log";
@ENV{qw(FAKE_RBD_ROOT FAKE_RBD_FSID FAKE_RBD_LOG)} = ($root, $fsid, $log);
delete $ENV{FAKE_RBD_FAIL};

my $old = settings();
configure(root => $root, rbd_command => $fake, kernel_version => '6.1', ceph_timeout => 10);

my $image = "vm-" . (700 + $$ % 100) . "-disk-0";
system('rbd', '-c', "$root/etc/pve/ceph.conf", '--keyring', "$root/etc/pve/priv/ceph/ceph.keyring",
       'create', '--size', '8M', '--image-feature', 'layering', "rbd/$image") == 0 or die "rbd create failed\n";

my $cfg = PVE::Storage::XS::parse_config("rbd: ceph\n\tpool rbd\n\tkrbd 1\n\tcontent images\n");
my $scfg = $cfg->{ids}{ceph};
my $dev = "/dev/rbd-pve/$fsid/rbd/$image";
my @conn = ('-p', 'rbd', '-c', "$root/etc/pve/ceph.conf", '--auth_supported', 'cephx', '-n', 'client.admin',
            '--keyring', "$root/etc/pve/priv/ceph/ceph.keyring");

sub take_log {
    my @calls;
    if (open(my $fh, '<', $log)) {
        push @calls, JSON::PP::decode_json($_) while <$fh>;
        close($fh);
        unlink $log;
    }
    return [ map { join(' ', @$_) } @calls ];
}

sub reset_kernel { remove_tree("$root/dev", "$root/sys") }

sub device_state {
    my ($state) = @_;
    return if $state eq 'not mapped';
    system($fake, @conn[0..1], '-c', "$root/etc/pve/ceph.conf", '--keyring', "$root/etc/pve/priv/ceph/ceph.keyring",
           'map', $image, ($state eq 'mapped with rxbounce' ? ('--options', 'rxbounce') : ())) == 0 or die;
    unlink "$root/sys/devices/rbd/0/config_info" if $state eq 'config_info unreadable';
    take_log();
}

sub map_options {
    open(my $fh, '<', "$root/sys/devices/rbd/0/config_info") or return undef;
    my $line = <$fh>;
    close($fh);
    return (split(/\s+/, $line))[1];
}

my $c = join(' ', @conn);
my $n = 0;
for my $state ('not mapped', 'mapped without rxbounce', 'mapped with rxbounce', 'config_info unreadable') {
    for my $gw (undef, 0, 1) {
        for my $pm (undef, 0, 1) {
            reset_kernel();
            device_state($state);
            my $hints = {};
            $hints->{'guest-is-windows'} = $gw if defined($gw);
            $hints->{'plugin-may-deactivate-volume'} = $pm if defined($pm);
            my $label = "[$state, guest-is-windows=" . ($gw // 'absent') . ", may-deactivate=" . ($pm // 'absent') . "]";
            my @warnings;
            local $SIG{__WARN__} = sub { push @warnings, $_[0] };
            # the way PVE::Storage calls a plugin
            my $path = eval { PVE::Storage::XS::Plugin::RBD->map_volume('ceph', $scfg, $image, undef, $hints) };
            is($@, '', "$label no error");
            is($path, $dev, "$label path");
            my $win = ($gw // 0) == 1;
            my (@want_calls, @want_warn, $want_opts);
            if ($state eq 'not mapped') {
                @want_calls = ("$c map $image" . ($win ? ' --options rxbounce' : ''));
                $want_opts = 'name=admin,key=client.admin' . ($win ? ',rxbounce' : '');
            } elsif ($state eq 'mapped without rxbounce') {
                if ($win && ($pm // 0) == 1) {
                    @want_calls = ("$c unmap $dev", "$c map $image --options rxbounce");
                    $want_opts = 'name=admin,key=client.admin,rxbounce';
                } else {
                    @want_warn = ("not unmapping volume $image to apply rxbounce since it is not safe\n") if $win;
                    $want_opts = 'name=admin,key=client.admin';
                }
            } elsif ($state eq 'mapped with rxbounce') {
                $want_opts = 'name=admin,key=client.admin,rxbounce';
            } else {
                @want_warn = ("cannot read map options of /dev/rbd0, not remapping volume $image\n") if $win;
            }
            is_deeply(take_log(), \@want_calls, "$label rbd calls");
            is_deeply(\@warnings, \@want_warn, "$label warnings");
            is(map_options(), $want_opts, "$label map options");
            $n++;
        }
    }
}
is($n, 36, 'all 36 cases');

# faults, through the storage-level calls
reset_kernel();
device_state('mapped without rxbounce');
{
    local $ENV{FAKE_RBD_FAIL} = 'unmap';
    my @warnings;
    local $SIG{__WARN__} = sub { push @warnings, $_[0] };
    my $path = map_volume($cfg, "ceph:$image", undef, { 'guest-is-windows' => 1, 'plugin-may-deactivate-volume' => 1 });
    is($path, $dev, 'unmap fails during a remap: path returned');
    is_deeply(\@warnings, ["could not unmap to apply rxbounce - can't unmap rbd device $dev: rbd: sysfs write failed\n\n"],
              'unmap fails during a remap: warned');
    is(map_options(), 'name=admin,key=client.admin', 'still mapped as before');
    take_log();
}
reset_kernel();
{
    local $ENV{FAKE_RBD_FAIL} = 'map';
    eval { activate_volumes($cfg, ["ceph:$image"], undef, { 'guest-is-windows' => 1 }) };
    # upstream's run_rbd_command: the line before rbd's last one
    is($@, "can't map rbd volume $image: rbd: sysfs write failed\n", 'map fails: the command\'s error');
    is($@->code, 'ECOMMAND', 'map fails: the code');
    is($@->exit_status, 5, 'map fails: the exit status');
    like($@->stderr, qr/^rbd: sysfs write failed\nrbd: map failed: \(5\) Input\/output error\n/, 'map fails: rbd\'s stderr');
    take_log();
}
eval { map_volume($cfg, 'ceph:vm-999-disk-404') };
is($@, "rbd error: rbd: error opening image vm-999-disk-404: (2) No such file or directory\n", 'missing image');
is_deeply(take_log(), [], 'no map attempted for a missing image');
eval { map_volume($cfg, 'ceph:vm-100-disk-0/../../x') };
is($@, "unable to parse rbd volume name 'vm-100-disk-0/../../x'\n", 'path traversal');

reset_kernel();
my $path = map_volume($cfg, "ceph:$image", undef, { 'guest-is-windows' => 1 });
is($path, $dev, 'storage-level map_volume');
ok(unmap_volume($cfg, "ceph:$image"), 'unmap_volume');
is_deeply(take_log(), ["$c map $image --options rxbounce", "$c unmap $dev"], 'map then unmap');

# a child forked after the parent cached its connection connects on its own
reset_kernel();
map_volume($cfg, "ceph:$image");
unmap_volume($cfg, "ceph:$image");
take_log();
{
    my $pid = fork() // die "fork: $!";
    if (!$pid) {
        alarm(30);   # a hang on the parent's connection fails the test
        my $ok = eval { map_volume($cfg, "ceph:$image") eq $dev };
        POSIX::_exit($ok ? 0 : 1);
    }
    waitpid($pid, 0);
    is($?, 0, 'a forked child maps with a connection of its own');
    is_deeply(take_log(), ["$c map $image"], 'the child mapped');
    unmap_volume($cfg, "ceph:$image");
    take_log();
}

# one deadline per call: a hanging rbd fails within one ceph_timeout
reset_kernel();
{
    my $script = "$root/hanging-rbd";
    open(my $fh, '>', $script) or die $!;
    print $fh "#!/bin/sh\ncase \" \$* \" in *\" map \"*) exec sleep 300;; esac\nexec $fake \"\$@\"\n";
    close($fh);
    chmod(0755, $script);
    configure(rbd_command => $script, ceph_timeout => 2);
    my $t0 = time();
    eval { activate_volumes($cfg, ["ceph:$image"]) };
    my $took = time() - $t0;
    like($@, qr/^can't map rbd volume \Q$image\E: command '.*' failed: got timeout\n\z/, 'a hanging rbd: timeout error');
    cmp_ok($took, '<=', 4, "within one ceph_timeout and slack ($took s)");
    configure(rbd_command => $fake, ceph_timeout => 10);
}

# A Perl plugin between rbd and dir volumes: one list, in its order, each
# with the hints (the plugin looks at what rbd has mapped when its turn comes)
{
    package Mixed::Plugin {
        our @seen;
        sub api { 15 }
        sub type { 'mixed' }
        sub plugindata { return { content => [ { images => 1 }, { images => 1 } ] } }
        sub options { return { content => { optional => 1 } } }
        sub activate_volume {
            my ($class, $storeid, $scfg, $volname, $snap, $cache, $hints) = @_;
            push @seen, [$volname, $hints->{'guest-is-windows'}, main::take_log()];
            return 1;
        }
    }
    PVE::Storage::XS::register_plugin('Mixed::Plugin');
    my $image2 = "vm-" . (800 + $$ % 100) . "-disk-0";
    system('rbd', '-c', "$root/etc/pve/ceph.conf", '--keyring', "$root/etc/pve/priv/ceph/ceph.keyring",
           'create', '--size', '8M', '--image-feature', 'layering', "rbd/$image2") == 0 or die "rbd create failed\n";
    make_path("$root/iso/template/iso");
    open(my $fh, '>', "$root/iso/template/iso/x.iso") or die;
    close($fh);
    my $mixed = PVE::Storage::XS::parse_config("rbd: ceph\n\tpool rbd\n\tkrbd 1\n\tcontent images\n\n"
        . "dir: isos\n\tpath $root/iso\n\tcontent iso\n\nmixed: mx\n\tcontent images\n");
    reset_kernel();
    take_log();
    activate_volumes($mixed, ["ceph:$image", 'isos:iso/x.iso', 'mx:vm-100-disk-0', "ceph:$image2"], undef,
                     { 'guest-is-windows' => 1 });
    is_deeply(\@Mixed::Plugin::seen, [['vm-100-disk-0', 1, ["$c map $image --options rxbounce"]]],
              'the Perl plugin ran after the first rbd volume, with the hints');
    is_deeply(take_log(), ["$c map $image2 --options rxbounce"], 'and before the second');
    reset_kernel();
    system('rbd', '-c', "$root/etc/pve/ceph.conf", '--keyring', "$root/etc/pve/priv/ceph/ceph.keyring", 'rm',
           '--no-progress', "rbd/$image2");
}

# upstream prints the image features it changes on standard output: here
# the selected handle gets the same line, in order with the warnings
{
    my $fresh = "vm-" . (600 + $$ % 100) . "-disk-9";
    system('rbd', '-c', "$root/etc/pve/ceph.conf", '--keyring', "$root/etc/pve/priv/ceph/ceph.keyring",
           'create', '--size', '8M', '--image-feature', 'layering', "rbd/$fresh") == 0 or die "rbd create failed\n";
    reset_kernel();
    take_log();
    my $out = '';
    open(my $fh, '>', \$out) or die;
    my $prev = select($fh);
    my $path = eval { map_volume($cfg, "ceph:$fresh") };
    select($prev);
    close($fh);
    is($@, '', 'a fresh image maps');
    is($out, "enable RBD image features this kernel RBD drivers supports: fast-diff,object-map,exclusive-lock\n",
       'the feature change is printed, as upstream prints it');
    $out = '';
    open($fh, '>', \$out) or die;
    $prev = select($fh);
    map_volume($cfg, "ceph:$fresh");
    select($prev);
    is($out, '', 'mapped already: nothing to change, nothing printed');
    unmap_volume($cfg, "ceph:$fresh");
    reset_kernel();
    take_log();
    system('rbd', '-c', "$root/etc/pve/ceph.conf", '--keyring', "$root/etc/pve/priv/ceph/ceph.keyring", 'rm',
           '--no-progress', "rbd/$fresh");
}

# outcomes: each action, and a dry run that plans what the real call does
{
    my @cases = (['not mapped', 1, 'mapped'], ['mapped without rxbounce', 1, 'remapped'],
                 ['mapped without rxbounce', 0, 'remap-skipped-unsafe'], ['mapped with rxbounce', 1, 'already-mapped'],
                 ['config_info unreadable', 1, 'options-unknown']);
    for my $case (@cases) {
        my ($state, $may, $action) = @$case;
        my $hints = { 'guest-is-windows' => 1, 'plugin-may-deactivate-volume' => $may };
        reset_kernel();
        device_state($state);
        my $before = map_options();
        my @warned;
        local $SIG{__WARN__} = sub { push @warned, @_ };
        my $plan = PVE::Storage::XS::activate_volumes_report($cfg, ["ceph:$image"], undef, $hints, { dry_run => 1 });
        is_deeply(take_log(), [], "$state: the dry run runs no rbd command");
        is(map_options(), $before, "$state: and leaves the kernel as it was");
        is($plan->[0]{action}, $action, "$state: the plan says $action");
        my $done = PVE::Storage::XS::activate_volumes_report($cfg, ["ceph:$image"], undef, $hints);
        is($done->[0]{action}, $action, "$state: the real call did $action");
        is($done->[0]{path}, $dev, "$state: with the device's path");
        is_deeply($done->[0]{commands} // [], $plan->[0]{commands} // [], "$state: the commands of the plan ran");
        is(scalar(@{ take_log() }), scalar(@{ $done->[0]{commands} // [] }), "$state: and only those");
        is_deeply($done->[0]{warnings}, [map { s/\n\z//r } @warned[scalar(@warned) / 2 .. $#warned]],
                  "$state: the volume's warnings are in its record");
    }
    reset_kernel();
    my $err;
    eval { PVE::Storage::XS::activate_volumes_report($cfg, ["ceph:$image", 'ceph:vm-999-disk-404'], undef,
                                                     { 'guest-is-windows' => 1 }) };
    $err = $@;
    isa_ok($err, 'PVE::Storage::XS::Error', 'a failing reporting call dies with the error object');
    is_deeply([map { $_->{action} } @{ $err->volumes }], ['mapped', 'failed'], 'whose volumes say what happened');
    is($err->volumes->[1]{error}, 'rbd error: rbd: error opening image vm-999-disk-404: (2) No such file or directory',
       'the failed volume has the error');
    my $r = PVE::Storage::XS::map_volume_report($cfg, "ceph:$image", undef, { 'guest-is-windows' => 1 });
    is($r->[0]{action}, 'already-mapped', 'map_volume_report: one record');
    {   # the unmap of a remap fails: the volume stays mapped as it was, and says so
        reset_kernel();
        device_state('mapped without rxbounce');
        local $ENV{FAKE_RBD_FAIL} = 'unmap';
        my @warned;
        local $SIG{__WARN__} = sub { push @warned, @_ };
        my $f = PVE::Storage::XS::map_volume_report($cfg, "ceph:$image", undef,
                                                    { 'guest-is-windows' => 1, 'plugin-may-deactivate-volume' => 1 });
        is($f->[0]{action}, 'remap-failed', 'a failed unmap: remap-failed');
        like($f->[0]{warnings}[0], qr/^could not unmap to apply rxbounce - /, 'with the warning in the record');
        take_log();
        reset_kernel();
        device_state('mapped with rxbounce');
    }
    is($r->[0]{options_before}, 'name=admin,key=client.admin,rxbounce', 'with the kernel\'s options');
    reset_kernel();
    take_log();
}

# the VM-start flow: qemu-server's volumes and hints in one call
{
    make_path("$root/etc/pve/qemu-server");
    my $write = sub { my ($vmid, $text) = @_; open(my $fh, '>', "$root/etc/pve/qemu-server/$vmid.conf") or die; print $fh $text; close($fh) };
    $write->(100, "ostype: win11\nscsi0: ceph:$image,size=8M\nide2: none,media=cdrom\nunused0: ceph:vm-100-disk-404\n\n[snap]\nscsi1: ceph:vm-100-disk-405\n");
    reset_kernel();
    take_log();
    my $plan = PVE::Storage::XS::activate_vm_volumes($cfg, 100, 1, { dry_run => 1 });
    is_deeply([map { [$_->{volid}, $_->{action}] } @$plan], [["ceph:$image", 'mapped']], 'the plan: the one disk, to be mapped');
    is_deeply(take_log(), [], 'the dry run ran nothing');
    my $done = PVE::Storage::XS::activate_vm_volumes($cfg, 100, 1);
    is($done->[0]{action}, 'mapped', 'the Windows guest\'s disk is mapped');
    is($done->[0]{options_after}, 'name=admin,key=client.admin,rxbounce', 'with rxbounce');
    is_deeply(take_log(), ["$c map $image --options rxbounce"], 'one rbd map, as the plan said');
    $write->(101, "ostype: l26\nvirtio0: ceph:$image\n");
    reset_kernel();
    $done = PVE::Storage::XS::activate_vm_volumes($cfg, 101);
    is($done->[0]{options_after}, 'name=admin,key=client.admin', 'a Linux guest\'s disk: no rxbounce');
    $write->(102, "scsi0: gone:vm-102-disk-0\n");
    eval { PVE::Storage::XS::activate_vm_volumes($cfg, 102, 1) };
    is("$@", "scsi0: storage 'gone' does not exist\n", 'a disk on a missing storage: the error names the disk');
    eval { PVE::Storage::XS::activate_vm_volumes($cfg, 100, 1, 'dry') };
    is("$@", "activate_vm_volumes: options must be a hash reference\n", 'options are a hash');
    reset_kernel();
    take_log();
}

# audit: a Windows guest's disk without rxbounce needs action
{
    unlink glob("$root/etc/pve/qemu-server/*.conf");
    open(my $fh, '>', "$root/etc/pve/qemu-server/300.conf") or die;
    print $fh "ostype: win10\nvirtio0: ceph:$image\n";
    close($fh);
    reset_kernel();
    device_state('mapped without rxbounce');
    my $res = PVE::Storage::XS::audit($cfg);
    is($res->{needs_action}, 1, 'audit: one volume needs action');
    is($res->{volumes}[0]{device}, '/dev/rbd0', 'the device');
    ok(!$res->{volumes}[0]{in_order}, 'not in order');
    is_deeply($res->{volumes}[0]{command}, ['pvestorage', 'map', "ceph:$image", '--hint', 'guest-is-windows=1',
                                            '--hint', 'plugin-may-deactivate-volume=1'], 'the fix');
    # the guest runs: a QEMU started with its pid file (under the root's /proc)
    make_path("$root/var/run/qemu-server", "$root/proc/4242");
    my $put = sub { my ($rel, $text) = @_; open(my $f, '>', "$root/$rel") or die "$rel: $!"; print $f $text; close($f) };
    $put->('var/run/qemu-server/300.pid', "4242\n");
    $put->('proc/4242/stat', "4242 (kvm) S 1 4242 4242 0 -1\n");
    $put->('proc/4242/cmdline', join("\0", '/usr/bin/kvm', '-id', '300', '-pidfile', '/var/run/qemu-server/300.pid', ''));
    $res = PVE::Storage::XS::audit($cfg);
    is($res->{needs_action}, 1, 'a running guest\'s disk still needs action');
    ok($res->{volumes}[0]{running} && !defined($res->{volumes}[0]{command}), 'but no command while it runs');
    like($res->{volumes}[0]{remedy}, qr/once the guest is shut down/, 'the remedy says when');
    $put->('proc/4242/stat', "4242 (kvm) Z 1 4242 4242 0 -1\n");
    ok(!PVE::Storage::XS::audit($cfg)->{volumes}[0]{running}, 'a zombie QEMU is not running');
    unlink "$root/var/run/qemu-server/300.pid";
    reset_kernel();
    device_state('mapped with rxbounce');
    is(PVE::Storage::XS::audit($cfg)->{needs_action}, 0, 'with rxbounce all is in order');
    unlink "$root/etc/pve/qemu-server/300.conf";
    reset_kernel();
}

configure(%$old);
system('rbd', '-c', "$root/etc/pve/ceph.conf", '--keyring', "$root/etc/pve/priv/ceph/ceph.keyring", 'rm', '--no-progress', "rbd/$image");
done_testing();
