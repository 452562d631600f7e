#!/usr/bin/perl
# A Perl plugin that keeps its own methods and delegates activate_volume and
# map_volume to the XS plugin, driven the way PVE::Storage drives plugins.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use File::Path qw(make_path);

use PVE::Storage::XS;

package My::Storage::DirPlugin {
    use parent -norequire, 'My::Storage::BasePlugin';

    our @calls;
    sub api { return 12 }
    sub type { return 'mydir' }

    # stays Perl
    sub parse_volname {
        my ($class, $volname) = @_;
        push @calls, "perl parse_volname $volname";
        return PVE::Storage::XS::Plugin::Dir->parse_volname($volname);
    }

    # delegated to C, same arguments
    sub activate_volume {
        my ($class, $storeid, $scfg, $volname, $snapname, $cache, $hints) = @_;
        push @calls, "xs activate_volume $volname";
        return PVE::Storage::XS::Plugin::Dir->activate_volume($storeid, $scfg, $volname, $snapname, $cache, $hints);
    }

    sub map_volume {
        my ($class, $storeid, $scfg, $volname, $snapname, $hints) = @_;
        push @calls, "xs map_volume $volname";
        return PVE::Storage::XS::Plugin::Dir->map_volume($storeid, $scfg, $volname, $snapname, $hints);
    }
}

package My::Storage::BasePlugin {
    sub deactivate_volume { push @My::Storage::DirPlugin::calls, "perl deactivate_volume $_[3]"; return }
}

# A subclass of the XS class itself: the C type stays 'dir'.
package My::Storage::Subclass {
    use parent -norequire, 'PVE::Storage::XS::Plugin::Dir';
    sub type { return 'mysub' }
    sub api { return 15 }
}

package main;

# A miniature of PVE::Storage: the API check on load, then activate/map.
my @warnings;
local $SIG{__WARN__} = sub { push @warnings, $_[0] };

sub load_plugin {
    my ($class) = @_;
    my $api = $class->api();
    my $min = PVE::Storage::XS::APIVER - PVE::Storage::XS::APIAGE;
    die "implements an API version newer than current ($api > " . PVE::Storage::XS::APIVER . ")\n"
        if $api > PVE::Storage::XS::APIVER;
    die "API version too old, please update the plugin ($api < $min)\n" if $api < $min;
    warn "Plugin \"$class\" is implementing an older storage API, an upgrade is recommended\n"
        if $api != PVE::Storage::XS::APIVER;
    return $class;
}

my $plugin = load_plugin('My::Storage::DirPlugin');
is_deeply(\@warnings, ["Plugin \"My::Storage::DirPlugin\" is implementing an older storage API, an upgrade is recommended\n"],
          'API 12 plugin loads with the warning');

my $dir = tempdir(CLEANUP => 1);
my $scfg = { type => 'mydir', path => $dir, content => { images => 1 } };
my $hints = { 'guest-is-windows' => 1, 'plugin-may-deactivate-volume' => 1 };
PVE::Storage::XS::verify_hints($hints);

my ($vtype, $name, $vmid) = $plugin->parse_volname('100/vm-100-disk-0.raw');
is($vtype, 'images', 'Perl method kept');

eval { $plugin->activate_volume('mystore', $scfg, '100/vm-100-disk-0.raw', undef, {}, $hints) };
is($@, "volume 'mystore:100/vm-100-disk-0.raw' does not exist\n", 'delegated activate_volume: exact message');

make_path("$dir/images/100");
open(my $fh, '>', "$dir/images/100/vm-100-disk-0.raw") or die;
close($fh);
ok(eval { $plugin->activate_volume('mystore', $scfg, '100/vm-100-disk-0.raw', undef, {}, $hints); 1 },
   'delegated activate_volume');
is($plugin->map_volume('mystore', $scfg, '100/vm-100-disk-0.raw', undef, $hints),
   "$dir/images/100/vm-100-disk-0.raw", 'delegated map_volume returns the path');
$plugin->deactivate_volume('mystore', $scfg, '100/vm-100-disk-0.raw', undef, {});

is_deeply(\@My::Storage::DirPlugin::calls, [
    'perl parse_volname 100/vm-100-disk-0.raw',
    'xs activate_volume 100/vm-100-disk-0.raw',
    'xs activate_volume 100/vm-100-disk-0.raw',
    'xs map_volume 100/vm-100-disk-0.raw',
    'perl deactivate_volume 100/vm-100-disk-0.raw',
], 'each call went where the plugin said');

# plugin API versions out of range are refused
for my $case ([16, "implements an API version newer than current (16 > 15)\n"],
              [8, "API version too old, please update the plugin (8 < 9)\n"]) {
    no warnings 'redefine';
    local *My::Storage::DirPlugin::api = sub { $case->[0] };
    eval { load_plugin('My::Storage::DirPlugin') };
    is($@, $case->[1], "API $case->[0] refused");
}

my $sub = load_plugin('My::Storage::Subclass');
is($sub->type, 'mysub', 'subclass keeps its own type');
is($sub->map_volume('s', $scfg, '100/vm-100-disk-0.raw'), "$dir/images/100/vm-100-disk-0.raw",
   'subclass of the XS class maps through the dir plugin');

done_testing();
