#!/usr/bin/perl
# Plugins written in Perl: register_plugin($class) with Proxmox's plugin
# interface, the API version check, dispatch in list order beside the C
# plugins, die and warn, and the PVE::Storage::Plugin->lookup fallback.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use File::Path qw(make_path);

use PVE::Storage::XS qw(register_plugin parse_config activate_volumes deactivate_volumes map_volume path);

my $dir = tempdir(CLEANUP => 1);
make_path("$dir/d1/template/iso");
open(my $fh, '>', "$dir/d1/template/iso/x.iso") or die;
close($fh);

# A third-party plugin as they are written for PVE::Storage::Custom: its own
# properties, api 15, the hints it is given recorded.
package My::Storage::Custom {
    our @calls;
    sub api { return 15 }
    sub type { return 'custom' }
    sub plugindata { return { content => [ { images => 1, rootdir => 1, none => 1 }, { images => 1 } ] } }
    sub properties {
        return {
            'custom-server' => { type => 'string', format => 'pve-storage-server', description => 'x' },
            'custom-level' => { type => 'integer', minimum => 1, maximum => 3, optional => 1,
                                completion => sub { } },
        };
    }
    sub options {
        return { 'custom-server' => { fixed => 1 }, 'custom-level' => { optional => 1 },
                 nodes => { optional => 1 }, content => { optional => 1 }, disable => { optional => 1 } };
    }
    sub parse_volname { my ($class, $volname) = @_; return ('images', $volname, 100, undef, undef, undef, 'raw') }
    sub path { my ($class, $scfg, $volname, $storeid, $snap) = @_; return ("/dev/custom/$volname", 100, 'images') }
    sub activate_storage {
        my ($class, $storeid, $scfg, $cache) = @_;
        push @calls, "activate_storage $storeid server=$scfg->{'custom-server'}";
        $cache->{seen} = 'by activate_storage';
        return 1;
    }
    sub activate_volume {
        my ($class, $storeid, $scfg, $volname, $snapname, $cache, $hints) = @_;
        my $h = join(',', map { "$_=$hints->{$_}" } sort keys %{ $hints // {} });
        push @calls, "activate_volume $storeid:$volname snap=" . ($snapname // '-') . " hints=$h cache=" . ($cache->{seen} // '-');
        warn "custom: activating $volname\n";
        die "custom: cannot activate $volname\n" if $volname =~ /broken/;
        return 1;
    }
    sub deactivate_volume {
        my ($class, $storeid, $scfg, $volname, $snapname, $cache) = @_;
        push @calls, "deactivate_volume $storeid:$volname";
        die "custom: $volname is busy\n" if $volname =~ /busy/;
        return 1;
    }
    sub map_volume {
        my ($class, $storeid, $scfg, $volname, $snapname, $hints) = @_;
        push @calls, "map_volume $storeid:$volname hints=" . join(',', sort keys %{ $hints // {} });
        return "/dev/custom-mapped/$volname";
    }
    # API 14, upstream's argument order: ($scfg, $storeid)
    sub get_identity {
        my ($class, $scfg, $storeid) = @_;
        die "custom: $storeid has no array\n" if !$scfg->{'custom-level'};
        return "array-$scfg->{'custom-server'}-$storeid";
    }
}

my @w;
local $SIG{__WARN__} = sub { push @w, $_[0] };

ok(eval { register_plugin('My::Storage::Custom'); 1 }, 'a third-party class registers') or diag $@;
is_deeply(\@w, [], 'api 15: no warning');

my $text = "custom: fast\n\tcustom-server 192.0.2.9\n\tcustom-level 2\n\n"
         . "custom: slow\n\tcustom-server not a server\n\n"
         . "dir: d1\n\tpath $dir/d1\n\tcontent iso,images\n";
my $cfg = parse_config($text, 'storage.cfg');
is_deeply($cfg->{ids}{fast}, { type => 'custom', 'custom-server' => '192.0.2.9', 'custom-level' => 2,
                               content => { images => 1 } }, 'its sections parse with its schema');
is_deeply(\@w, [
    "file storage.cfg line 6 (section 'slow') - unable to parse value of 'custom-server': invalid format - "
        . "value does not look like a valid server name or IP address\n\n",
    "file storage.cfg line 6 (skip section 'slow'): missing value for required option 'custom-server'\n",
], 'its values are checked with upstream\'s messages');
@w = ();

# storage-level calls: in list order, C and Perl interleaved, with hints
my $hints = { 'guest-is-windows' => 1, 'plugin-may-deactivate-volume' => 0 };
activate_volumes($cfg, ['fast:vm-100-disk-0', 'd1:iso/x.iso', 'fast:vm-100-disk-1'], undef, $hints);
is_deeply(\@My::Storage::Custom::calls, [
    'activate_storage fast server=192.0.2.9',
    'activate_volume fast:vm-100-disk-0 snap=- hints=guest-is-windows=1,plugin-may-deactivate-volume=0 '
        . 'cache=by activate_storage',
    'activate_volume fast:vm-100-disk-1 snap=- hints=guest-is-windows=1,plugin-may-deactivate-volume=0 '
        . 'cache=by activate_storage',
], 'activate_storage once, then each volume with upstream\'s arguments and one $cache');
is_deeply(\@w, ["custom: activating vm-100-disk-0\n", "custom: activating vm-100-disk-1\n"],
          'the plugin\'s warn reaches $SIG{__WARN__}');
@My::Storage::Custom::calls = ();
activate_volumes($cfg, ['fast:vm-100-disk-0'], 's1');
like($My::Storage::Custom::calls[1], qr/^activate_volume fast:vm-100-disk-0 snap=s1 hints= /, 'the snapshot name');
@w = ();
@My::Storage::Custom::calls = ();

# a die in the middle stops the call there, with the plugin's message
make_path("$dir/d1/images/100");
eval {
    activate_volumes($cfg, ['fast:vm-100-disk-0', 'fast:vm-100-broken', 'd1:iso/missing.iso'], undef, $hints);
};
is($@, "custom: cannot activate vm-100-broken\n", 'the plugin\'s die is the call\'s error');
is(scalar(grep { /activate_volume/ } @My::Storage::Custom::calls), 2, 'nothing after the failing volume');
@w = ();

# an exception object comes out as the same object
{
    package My::Error { sub new { bless { msg => $_[1] }, $_[0] } sub msg { $_[0]{msg} } }
    no warnings 'redefine';
    local *My::Storage::Custom::activate_volume = sub { die My::Error->new('typed failure') };
    eval { activate_volumes($cfg, ['fast:vm-100-disk-0']) };
    isa_ok($@, 'My::Error', 'the error');
    is(ref($@) && $@->msg, 'typed failure', 'with its contents');
}

# map_volume and path go to the class
is(map_volume($cfg, 'fast:vm-100-disk-0', undef, $hints), '/dev/custom-mapped/vm-100-disk-0', 'map_volume');
is(path($cfg, 'fast:vm-100-disk-0'), '/dev/custom/vm-100-disk-0', 'path');

# deactivation goes on past a failing volume and warns its message
@My::Storage::Custom::calls = ();
@w = ();
eval { deactivate_volumes($cfg, ['fast:vm-100-busy', 'fast:vm-100-disk-0']) };
is($@, "volume deactivation failed: fast:vm-100-busy\n", 'deactivate_volumes: the failed ones');
is_deeply(\@w, ["custom: vm-100-busy is busy\n"], 'and the plugin\'s message as a warning');
is(scalar(@My::Storage::Custom::calls), 2, 'both volumes were tried');
@w = ();

# a plugin that calls back into PVE::Storage::XS from inside a call
{
    no warnings 'redefine';
    local *My::Storage::Custom::activate_volume = sub {
        my ($class, $storeid, $scfg, $volname) = @_;
        push @My::Storage::Custom::calls, 'inner ' . path($cfg, 'd1:iso/x.iso');
        return 1;
    };
    @My::Storage::Custom::calls = ();
    activate_volumes($cfg, ['fast:vm-100-disk-0']);
    is_deeply(\@My::Storage::Custom::calls,
              ['activate_storage fast server=192.0.2.9', "inner $dir/d1/template/iso/x.iso"], 're-entry works');
}

# a dying warn handler while the core's warnings are flushed into a plugin call
{
    my $cfg2 = { ids => { fast => $cfg->{ids}{fast}, d1 => $cfg->{ids}{d1} } };
    local $SIG{__WARN__} = sub { die "handler: $_[0]" };
    eval { activate_volumes($cfg2, ['fast:vm-100-disk-0']) };
    is($@, "handler: custom: activating vm-100-disk-0\n", 'a dying warn handler wins');
}

# the API version, with upstream's three messages
for my $case ([15, 'Current', undef, undef],
              [14, 'Older', undef, "Plugin \"My::Storage::Older\" is implementing an older storage API, an upgrade is recommended\n"],
              [9, 'Old', undef, "Plugin \"My::Storage::Old\" is implementing an older storage API, an upgrade is recommended\n"],
              [16, 'New', "implements an API version newer than current (16 > 15)\n"],
              [8, 'Ancient', "API version too old, please update the plugin (8 < 9)\n"]) {
    my ($api, $name, $die, $warn) = @$case;
    no strict 'refs';
    *{"My::Storage::${name}::api"} = sub { $api };
    *{"My::Storage::${name}::type"} = sub { lc $name };
    *{"My::Storage::${name}::activate_volume"} = sub { 1 };
    @w = ();
    eval { register_plugin("My::Storage::$name") };
    is($@, $die // '', "api $api: " . ($die ? 'dies' : 'loads'));
    is_deeply(\@w, $warn ? [$warn] : [], "api $api: " . ($warn ? 'warns' : 'no warning'));
}
{
    no strict 'refs';
    *{'My::Storage::NoApi::type'} = sub { 'noapi' };
    eval { register_plugin('My::Storage::NoApi') };
    is($@, "does not provide an api() method\n", 'a class without api()');
}
eval { register_plugin('My::Storage::Custom') };
is($@, "duplicate storage plugin type 'custom'\n", 'a type is registered once');

# Without PVE::Storage loaded, a type with no implementation here fails
my $node = parse_config("pbs: pbs1\n\tserver 192.0.2.9\n\tdatastore store1\n\tcontent backup\n\n"
                        . "dir: d1\n\tpath $dir/d1\n\tcontent iso\n");
eval { activate_volumes($node, ['d1:iso/x.iso', 'pbs1:backup/vm/100/2025-01-01T00:00:00Z'], undef, $hints) };
is($@, "storage 'pbs1' has type 'pbs', for which no plugin is registered (a plugin can be registered for it)\n",
   'a type nobody serves: one clear error');

# With PVE::Storage loaded, upstream's class for the type serves it: a
# stand-in written here, not upstream's code
{
    package Stand::Pbs {
        our @calls;
        sub activate_volume {
            my ($class, $storeid, $scfg, $volname, $snapname, $cache, $hints) = @_;
            push @calls, "$storeid:$volname ds=$scfg->{datastore} windows=$hints->{'guest-is-windows'}";
            return 1;
        }
        sub path { return ("pbs/$_[1]{datastore}/$_[2]", undef, 'backup') }
    }
    package PVE::Storage::Plugin {
        sub lookup {
            my ($class, $type) = @_;
            return 'Stand::Pbs' if $type eq 'pbs';
            die "unknown section type '$type'\n";
        }
    }
    local $INC{'PVE/Storage.pm'} = __FILE__;
    activate_volumes($node, ['d1:iso/x.iso', 'pbs1:backup/vm/100/2025-01-01T00:00:00Z'], undef, $hints);
    is_deeply(\@Stand::Pbs::calls, ['pbs1:backup/vm/100/2025-01-01T00:00:00Z ds=store1 windows=1'],
              'PVE::Storage::Plugin->lookup(TYPE) serves a type with no implementation here');
    is(path($node, 'pbs1:backup/vm/100/x'), 'pbs/store1/backup/vm/100/x', 'path too');
    # the schema stays this library's: the section still parses the same
    my @pw;
    local $SIG{__WARN__} = sub { push @pw, @_ };
    my $again = parse_config("lvmthin: t2\n\tthinpool data\n\tvgname pve\n");
    is_deeply([$again->{ids}{t2}, \@pw], [{ type => 'lvmthin', thinpool => 'data', vgname => 'pve',
                                            content => { images => 1, rootdir => 1 } }, []],
              'lvmthin sections parse as before');
}

# register_plugin replaces a C plugin of its type: the Perl behaviour back
{
    package My::Storage::PerlDir {
        our @calls;
        sub api { 15 }
        sub type { 'dir' }
        sub properties { return { path => { type => 'string', format => 'pve-storage-path' } } }
        sub options { return { path => { fixed => 1 }, content => { optional => 1 } } }
        sub plugindata { return { content => [ { iso => 1, images => 1 }, { images => 1 } ] } }
        sub activate_volume { push @calls, $_[3]; return 1 }
    }
    register_plugin('My::Storage::PerlDir');
    activate_volumes($cfg, ['d1:iso/not-there.iso']);
    is_deeply(\@My::Storage::PerlDir::calls, ['iso/not-there.iso'], 'the Perl class serves dir now');
}

# With PVE::Storage loaded, the C plugins still serve a node's own types
# (upstream's classes for them are not asked); register_plugin replaces one
{
    package Stand::Node {
        our @calls;
        sub path { push @calls, $_[2]; return ("perl/$_[2]", undef, 'images') }
    }
    no warnings 'redefine';
    local *PVE::Storage::Plugin::lookup = sub { 'Stand::Node' };
    local $INC{'PVE/Storage.pm'} = __FILE__;
    my $n = parse_config("lvmthin: local-lvm\n\tthinpool data\n\tvgname pve\n\n"
                         . "zfspool: local-zfs\n\tpool rpool/data\n\n"
                         . "iscsidirect: direct\n\tportal 10.0.0.9\n\ttarget iqn.2003-01.org.example:d\n");
    is_deeply([ map { scalar path($n, $_) } 'local-lvm:vm-100-disk-0', 'local-zfs:vm-100-disk-1', 'direct:lun2' ],
              [ '/dev/pve/vm-100-disk-0', '/dev/zvol/rpool/data/vm-100-disk-1',
                'iscsi://10.0.0.9/iqn.2003-01.org.example:d/2' ],
              'lvmthin, zfspool and iscsidirect paths come from the C plugins');
    is_deeply(\@Stand::Node::calls, [], 'upstream\'s classes are not asked for them');
    package My::Storage::PerlZfs {
        sub api { 15 }
        sub type { 'zfspool' }
        sub properties { return {} }
        sub options { return { pool => { fixed => 1 }, content => { optional => 1 } } }
        sub plugindata { return { content => [ { images => 1 }, { images => 1 } ] } }
        sub path { return ("perl-zfs/$_[2]", undef, 'images') }
    }
    register_plugin('My::Storage::PerlZfs');
    is(scalar path($n, 'local-zfs:vm-100-disk-1'), 'perl-zfs/vm-100-disk-1',
       'a registered Perl class replaces the zfspool C plugin');
}

# ... which other types' options relied on: upstream's init would refuse
# them too, and the fallback says so
{
    no warnings 'redefine';
    local *PVE::Storage::Plugin::lookup = sub { 'Stand::Nfs' };
    package Stand::Nfs { sub activate_volume { 1 } }
    local $INC{'PVE/Storage.pm'} = __FILE__;
    my $z = { ids => { n1 => { type => 'nfs', server => '192.0.2.1', export => '/x', path => '/mnt/pve/n1' } } };
    eval { activate_volumes($z, ['n1:100/vm-100-disk-0.raw']) };
    is($@, "cannot serve storage type 'nfs' with Stand::Nfs: undefined property 'mkdir'\n",
       'a class that cannot be registered: the reason');
}

# a reporting call: a plugin says what it did with { action => ... }; a plain
# return value (the usual "return 1") says nothing, so its volume was activated
{
    package My::Storage::Attach {
        sub api { 15 }
        sub type { 'attachstore' }
        sub plugindata { { content => [ { images => 1 }, { images => 1 } ] } }
        sub options { { content => { optional => 1 } } }
        sub activate_volume { return { action => 'attached' } }
    }
    package My::Storage::Passive {
        sub api { 15 }
        sub type { 'passivestore' }
        sub plugindata { { content => [ { images => 1 }, { images => 1 } ] } }
        sub options { { content => { optional => 1 } } }
        sub deactivate_volume { 1 }   # no activate_volume
    }
    register_plugin('My::Storage::Attach');
    register_plugin('My::Storage::Passive');
    my $p = parse_config("passivestore: pa\n\tcontent images\n", 'storage.cfg');
    is(PVE::Storage::XS::activate_volumes_report($p, ['pa:100/vm-100-disk-0.raw'])->[0]{action}, 'not-implemented',
       'a Perl plugin without activate_volume: not-implemented');
    my $c = parse_config("attachstore: at\n\tcontent images\n", 'storage.cfg');
    my $r = PVE::Storage::XS::activate_volumes_report($c, ['at:100/vm-100-disk-0.raw']);
    is($r->[0]{action}, 'attached', 'a Perl plugin\'s own action is the record\'s');
    @My::Storage::Custom::calls = ();
    $r = PVE::Storage::XS::activate_volumes_report($cfg, ['fast:vm-100-disk-0'], undef, {});
    is($r->[0]{action}, 'activated', 'a plain return value: activated');
    is($r->[0]{path}, '/dev/custom/vm-100-disk-0', 'with the plugin\'s path');
    @My::Storage::Custom::calls = ();
    $r = PVE::Storage::XS::activate_volumes_report($cfg, ['fast:vm-100-disk-0'], undef, {}, { dry_run => 1 });
    is($r->[0]{action}, 'skipped-dry-run', 'a dry run does not ask a Perl plugin');
    is_deeply(\@My::Storage::Custom::calls, [], 'which is not called at all');
    eval { PVE::Storage::XS::map_volume_report($cfg, 'fast:vm-100-disk-0', undef, {}, 'dry') };
    is("$@", "map_volume_report: options must be a hash reference\n", 'options are a hash, as for activate_vm_volumes');
}

# the VM-start flow with a Perl plugin's disk: qemu-server's hints reach the
# class, in the guest's disk order, beside a dir disk; cdroms and unused
# disks are not activated
{
    my $root = tempdir(CLEANUP => 1);
    make_path("$root/etc/pve/qemu-server");
    open(my $fh, '>', "$root/etc/pve/qemu-server/700.conf") or die;
    print $fh "ostype: win11\nscsi0: fast:vm-700-disk-0,size=4G\nide2: d1:iso/x.iso,media=cdrom\n"
            . "ide0: none,media=cdrom\nunused0: fast:vm-700-disk-9\n";
    close($fh);
    PVE::Storage::XS::configure(root => $root);
    @My::Storage::Custom::calls = ();
    my $r = PVE::Storage::XS::activate_vm_volumes($cfg, 700, 1);
    PVE::Storage::XS::configure(root => '/');
    is_deeply([map { "$_->{volid} $_->{action}" } @$r], ['d1:iso/x.iso activated', 'fast:vm-700-disk-0 activated'],
              'a Windows guest: its iso and its Perl-plugin disk, in qemu-server\'s order (ide before scsi)');
    is_deeply([grep { /^activate_volume/ } @My::Storage::Custom::calls],
              ['activate_volume fast:vm-700-disk-0 snap=- hints=guest-is-windows=1,plugin-may-deactivate-volume=1 cache=by activate_storage'],
              'the class got qemu-server\'s hints for a Windows guest at start');
}

# get_identity (API 14): the plugin's answer, its die, and the base's die
# for a plugin without one (the C dir plugin, as upstream's DirPlugin)
{
    @w = ();
    is(PVE::Storage::XS::get_identity($cfg, 'fast'), 'array-192.0.2.9-fast', 'get_identity: the plugin\'s answer');
    my $slow = { ids => { slow => { type => 'custom', 'custom-server' => 'x' } } };
    eval { PVE::Storage::XS::get_identity($slow, 'slow') };
    is("$@", "custom: slow has no array\n", 'get_identity: the plugin\'s die');
    eval { PVE::Storage::XS::get_identity($cfg, 'd1') };
    is("$@", "get_identity not implemented for this plugin\n", 'get_identity: a plugin without one');
    is($@->code, 'EPLUGIN', 'get_identity: its code');
    eval { PVE::Storage::XS::get_identity($cfg, 'nope') };
    is("$@", "storage 'nope' does not exist\n", 'get_identity: an unknown storage');
    eval { PVE::Storage::XS::Plugin::Dir->get_identity($cfg->{ids}{d1}, 'd1') };
    is("$@", "get_identity not implemented for this plugin\n", 'the XS class: as upstream\'s base');
    is_deeply(\@w, [], 'get_identity: no warning');
}

done_testing();
