#!/usr/bin/perl
# dir storage on a temp tree: storage-level calls and plugin class methods,
# exact die messages, captured warnings.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use File::Path qw(make_path);

use PVE::Storage::XS qw(activate_volumes deactivate_volumes map_volume unmap_volume path);

my $dir = tempdir(CLEANUP => 1);
my $cfg = PVE::Storage::XS::parse_config(<<"CFG", 'storage.cfg');
dir: store
\tpath $dir/local
\tcontent images,iso

dir: off
\tpath $dir/off
\tdisable 1
CFG

my $vol = 'store:100/vm-100-disk-0.raw';
my $hints = { 'guest-is-windows' => 1, 'plugin-may-deactivate-volume' => 1 };
my $file = "$dir/local/images/100/vm-100-disk-0.raw";

eval { activate_volumes($cfg, [$vol], undef, $hints) };
is($@, "volume '$vol' does not exist\n", 'missing volume: exact message, no " at ... line"');
ok(-d "$dir/local/images", 'storage activated: images dir created');
ok(-d "$dir/local/template/iso", 'storage activated: iso dir created');

make_path("$dir/local/images/100");
open(my $fh, '>', $file) or die;
close($fh);

ok(eval { activate_volumes($cfg, [$vol], undef, $hints); 1 }, 'existing volume activates') or diag $@;
is(map_volume($cfg, $vol, undef, $hints), $file, 'map_volume returns the path');
is(path($cfg, $vol), $file, 'path');
ok(unmap_volume($cfg, $vol), 'unmap_volume');

eval { activate_volumes($cfg, [$vol], undef, { 'guest-is-windows' => 'yes' }) };
is($@, "internal error - hints are not valid: 400 Parameter verification failed.\n"
     . "guest-is-windows: type check ('boolean') failed - got 'yes'\n", 'invalid hints die');
ok(eval { activate_volumes($cfg, [], undef, { bogus => 1 }); 1 }, 'empty list: nothing, not even the hints check');

eval { activate_volumes($cfg, ['off:iso/x.iso']) };
is($@, "storage 'off' is disabled\n", 'disabled storage');
eval { map_volume($cfg, 'nope:iso/x.iso') };
is($@, "storage 'nope' does not exist\n", 'unknown storage');
eval { map_volume($cfg, 'store:snippets/..') };
is($@, "unable to parse directory volume name 'snippets/..'\n", 'path traversal');
eval { map_volume($cfg, $vol, 'snap1') };
is($@, "can't snapshot this image format\n", 'snapshot of a raw file');
eval { activate_volumes($cfg, 'store:x') };
is($@, "volume list is not an array reference\n", 'volume list must be an array');
eval { activate_volumes('cfg', [$vol]) };
is($@, "storage configuration is not a hash reference\n", 'configuration must be a hash');

# a dir name that is no volume deactivates (nothing), as upstream's dir plugin
ok(eval { deactivate_volumes($cfg, ['store:junk1', $vol]); 1 }, 'dir: nothing to deactivate, whatever the name')
    or diag $@;

# deactivation goes on, warns each error, then dies
package Busy::Plugin {
    sub api { 15 }
    sub type { 'busy' }
    sub deactivate_volume { die "can't deactivate $_[3] - device busy\n" }
}
PVE::Storage::XS::register_plugin('Busy::Plugin');
$cfg->{ids}{busy} = { type => 'busy' };
{
    my @w;
    local $SIG{__WARN__} = sub { push @w, $_[0] };
    eval { deactivate_volumes($cfg, ['busy:junk1', $vol, 'busy:junk2']) };
    is($@, "volume deactivation failed: busy:junk1 busy:junk2\n", 'deactivation failure message');
    is_deeply(\@w, [
        "can't deactivate junk1 - device busy\n",
        "can't deactivate junk2 - device busy\n",
    ], 'each failure warned through $SIG{__WARN__}');
}

# a dying __WARN__ handler: the die propagates, nothing leaks or crashes
{
    local $SIG{__WARN__} = sub { die "handler: $_[0]" };
    eval { deactivate_volumes($cfg, ['busy:junk1']) };
    is($@, "handler: can't deactivate junk1 - device busy\n", 'a dying warn handler wins');
}
delete $cfg->{ids}{busy};

# the plugin class, called the way PVE::Storage calls plugins
my $plugin = 'PVE::Storage::XS::Plugin::Dir';
my $scfg = $cfg->{ids}{store};
is($plugin->type, 'dir', 'type');
is($plugin->api, 15, 'api');
is_deeply([$plugin->parse_volname('100/base-100-disk-0.qcow2/101/vm-101-disk-0.qcow2')],
          ['images', 'vm-101-disk-0.qcow2', '101', 'base-100-disk-0.qcow2', '100', undef, 'qcow2'],
          'parse_volname: the seven fields');
is_deeply([$plugin->parse_volname('iso/x.iso')], ['iso', 'x.iso', undef, undef, undef, undef, 'raw'],
          'parse_volname: iso');
eval { $plugin->parse_volname('bogus') };
is($@, "unable to parse directory volume name 'bogus'\n", 'parse_volname dies');
is(scalar($plugin->path($scfg, '100/vm-100-disk-0.raw', 'store')), $file, 'path (scalar)');
is_deeply([$plugin->path($scfg, '100/vm-100-disk-0.raw', 'store')], [$file, '100', 'images'], 'path (list)');
is($plugin->get_subdir($scfg, 'iso'), "$dir/local/template/iso", 'get_subdir');
eval { $plugin->get_subdir($scfg, 'none') };
is($@, "unknown vtype 'none'\n", 'get_subdir of a type without a directory');

# PVE::Storage::path in list context: ($path, $owner, $vtype), as qemu-server uses it
is_deeply([path($cfg, $vol)], [$file, '100', 'images'], 'storage-level path (list)');
is(scalar(path($cfg, $vol)), $file, 'storage-level path (scalar)');
is_deeply([path($cfg, 'store:iso/x.iso')], ["$dir/local/template/iso/x.iso", undef, 'iso'], 'an iso has no owner');

# path_to_volume_id, as upstream (checked against its own code)
is_deeply([PVE::Storage::XS::path_to_volume_id($cfg, $file)], ['images', $vol], 'an image file');
is_deeply([PVE::Storage::XS::path_to_volume_id($cfg, "$dir/local/template/iso/x.iso")], ['iso', 'store:iso/x.iso'],
          'an iso file (need not exist)');
is_deeply([PVE::Storage::XS::path_to_volume_id($cfg, '/etc/passwd')], [''], 'not a volume: (\'\')');
is_deeply([PVE::Storage::XS::path_to_volume_id($cfg, 'store:iso/x.iso')], ['iso', 'store:iso/x.iso'], 'a volume ID');
eval { PVE::Storage::XS::path_to_volume_id($cfg, 'store:junk') };
is($@, "unable to parse directory volume name 'junk'\n", 'a volume ID whose name does not parse dies');
is($plugin->filesystem_path($scfg, 'iso/x.iso'), "$dir/local/template/iso/x.iso", 'filesystem_path');
ok(eval { $plugin->activate_storage('store', $scfg, {}); 1 }, 'activate_storage');
ok(eval { $plugin->activate_volume('store', $scfg, '100/vm-100-disk-0.raw', undef, {}, $hints); 1 },
   'activate_volume with hints') or diag $@;
eval { $plugin->activate_volume('store', $scfg, '100/vm-100-disk-1.raw', undef, {}, $hints) };
is($@, "volume 'store:100/vm-100-disk-1.raw' does not exist\n", 'activate_volume of a missing volume');
is($plugin->map_volume('store', $scfg, '100/vm-100-disk-0.raw', undef, $hints), $file, 'map_volume');
ok($plugin->unmap_volume('store', $scfg, '100/vm-100-disk-0.raw'), 'unmap_volume');
ok(eval { $plugin->deactivate_volume('store', $scfg, '100/vm-100-disk-0.raw', undef, {}); 1 }, 'deactivate_volume');
eval { $plugin->map_volume('store', { type => 'dir' }, 'iso/x.iso') };
is($@, "storage definition has no path\n", 'a section without path');

# the caller's configuration is not modified
my $copy = PVE::Storage::XS::parse_config("dir: store\n\tpath $dir/local\n\tcontent images,iso\n");
activate_volumes($cfg, [$vol], undef, $hints);
is_deeply($cfg->{ids}{store}, $copy->{ids}{store}, 'configuration untouched');

# a node's configuration as upstream's parser gives it: a type with no plugin
# here fails the call with one clear error, before anything is activated
{
    my $node_cfg = { ids => { %{ $cfg->{ids} },
        'pbs1' => { type => 'pbs', server => '192.0.2.9', datastore => 'store1', content => { backup => 1 } } } };
    eval { activate_volumes($node_cfg, [$vol, 'pbs1:backup/vm/100/2025-01-01T00:00:00Z'], undef, $hints) };
    is($@, "storage 'pbs1' has type 'pbs', for which no plugin is registered "
         . "(a plugin can be registered for it)\n", 'a type with no plugin: one clear error');
}

done_testing();
