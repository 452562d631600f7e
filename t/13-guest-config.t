#!/usr/bin/perl
# The VM-start flow (activate_vm_volumes) with the configuration qemu-server's
# vm_start runs with: the [PENDING] section applied (ostype, an added disk,
# a deletion), the last of a key given twice, qemu-server's own warnings
# through warn, and the file left as it is.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use File::Path qw(make_path);

use PVE::Storage::XS qw(register_plugin parse_config);

# a storage whose plugin records what it is asked, and with which hints
package Guest::Recorder {
    our @calls;
    sub api { return 15 }
    sub type { return 'recorder' }
    sub plugindata { return { content => [ { images => 1 }, { images => 1 } ] } }
    sub properties { return {} }
    sub options { return { content => { optional => 1 }, nodes => { optional => 1 }, disable => { optional => 1 } } }
    sub parse_volname { my ($class, $volname) = @_; return ('images', $volname, 100, undef, undef, undef, 'raw') }
    sub path { my ($class, $scfg, $volname) = @_; return ("/dev/recorder/$volname", 100, 'images') }
    sub activate_storage { return 1 }
    sub activate_volume {
        my ($class, $storeid, $scfg, $volname, $snapname, $cache, $hints) = @_;
        push @calls, "$storeid:$volname guest-is-windows=$hints->{'guest-is-windows'}";
        return 1;
    }
}

my @w;
local $SIG{__WARN__} = sub { push @w, $_[0] };
register_plugin('Guest::Recorder');
my $cfg = parse_config("recorder: rec\n\tcontent images\n", 'storage.cfg');

my $root = tempdir(CLEANUP => 1);
make_path("$root/etc/pve/qemu-server");
my $conf = "ostype: l26\nscsi0: rec:vm-100-disk-0\nscsi0: rec:vm-100-disk-1\nvirtio0: rec:vm-100-disk-2\n"
         . "cores: x\n\n[PENDING]\nostype: win11\nsata0: rec:vm-100-disk-3\ndelete: virtio0\n";
open(my $fh, '>', "$root/etc/pve/qemu-server/100.conf") or die;
print $fh $conf;
close($fh);
PVE::Storage::XS::configure(root => $root);

@w = ();
my $r = PVE::Storage::XS::activate_vm_volumes($cfg, 100, 1);
is_deeply(\@Guest::Recorder::calls, ['rec:vm-100-disk-1 guest-is-windows=1', 'rec:vm-100-disk-3 guest-is-windows=1'],
          'the pending ostype gives the Windows hint; the last scsi0, the pending disk, not the deleted virtio0');
is_deeply([map { $_->{volid} } @$r], ['rec:vm-100-disk-1', 'rec:vm-100-disk-3'], 'the records say the same');
is_deeply(\@w, ["vm 100 - unable to parse value of 'cores' - type check ('integer') failed - got 'x'\n"],
          "qemu-server's configuration warning, through warn");

# the dry run says what it applied on the selected handle
@w = ();
my $said = '';
open(my $out, '>', \$said) or die;
my $prev = select($out);
my $plan = PVE::Storage::XS::activate_vm_volumes($cfg, 100, 1, { dry_run => 1 });
select($prev);
close($out);
is($said, "vm 100 - pending changes applied as vm_start applies them (the configuration file is not changed): "
        . "ostype, sata0 set; virtio0 deleted\n", 'the dry run names the pending changes it applied');
is_deeply([map { "$_->{volid} $_->{action}" } @$plan], ['rec:vm-100-disk-1 skipped-dry-run', 'rec:vm-100-disk-3 skipped-dry-run'],
          'the plan has the same volumes');
is(scalar(@w), 1, 'and the same warning');

open($fh, '<', "$root/etc/pve/qemu-server/100.conf") or die;
my $after = do { local $/; <$fh> };
close($fh);
is($after, $conf, 'the configuration file is not changed (qemu-server would write the applied one)');
PVE::Storage::XS::configure(root => '/');

done_testing();
