#!/usr/bin/perl
# What a Perl plugin says it can do (pvestorage_capabilities): a class that
# honours a dry run is asked in one and sees dry_run() true; any other is
# not called (skipped-dry-run), a class serving a built-in C type
# included; an unknown capability dies at registration.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);

use PVE::Storage::XS qw(register_plugin parse_config dry_run);

# a storage of images whose names are all guest 100's
package My::Images {
    sub api { 15 }
    sub plugindata { { content => [ { images => 1 }, { images => 1 } ] } }
    sub options { { content => { optional => 1 } } }
    sub parse_volname { my ($class, $v) = @_; return ('images', $v, '100', undef, undef, undef, 'raw') }
}

package My::DryRunner {
    our @ISA = ('My::Images');
    our @seen;
    sub type { 'dryrunner' }
    sub pvestorage_capabilities { ['dry_run'] }
    sub activate_volume {
        my ($class, $storeid, $scfg, $volname) = @_;
        push @seen, "$volname dry_run=" . (PVE::Storage::XS::dry_run() ? 1 : 0);
        return { action => PVE::Storage::XS::dry_run() ? 'would-attach' : 'attached' };
    }
}

package My::Careless {
    our @ISA = ('My::Images');
    our @seen;
    sub type { 'careless' }
    sub activate_volume { my ($class, $storeid, $scfg, $volname) = @_; push @seen, $volname; return }
}

package My::Flyer {
    sub api { 15 }
    sub type { 'flyer' }
    sub pvestorage_capabilities { ['dry_run', 'fly'] }
}

package main;

ok(!dry_run(), 'outside a call: no dry run');
register_plugin('My::DryRunner');
register_plugin('My::Careless');
my $cfg = parse_config("dryrunner: dr\n\tcontent images\n\ncareless: ca\n\tcontent images\n", 'storage.cfg');

my $r = PVE::Storage::XS::activate_volumes_report($cfg, ['dr:vm-1', 'ca:vm-2'], undef, undef, { dry_run => 1 });
is_deeply([map { "$_->{volid} $_->{action}" } @$r], ['dr:vm-1 would-attach', 'ca:vm-2 skipped-dry-run'],
          'in a dry run the capable class is asked, the other is skipped');
is_deeply(\@My::DryRunner::seen, ['vm-1 dry_run=1'], 'and it sees the dry run');
is_deeply(\@My::Careless::seen, [], 'the other is not called at all');

@My::DryRunner::seen = ();
$r = PVE::Storage::XS::activate_volumes_report($cfg, ['dr:vm-1', 'ca:vm-2']);
is_deeply([map { "$_->{volid} $_->{action}" } @$r], ['dr:vm-1 attached', 'ca:vm-2 activated'], 'a real run asks both');
is_deeply(\@My::DryRunner::seen, ['vm-1 dry_run=0'], 'and dry_run() is false in it');

eval { register_plugin('My::Flyer') };
is("$@", "pvestorage_capabilities: unknown capability 'fly' (known: dry_run)\n", 'an unknown capability: refused');

# a Perl class registered for a type the library implements in C replaces
# it, capabilities and all: the C dir plugin's dry run is not the class's
package My::PerlDir {
    our @seen;
    sub api { 15 }
    sub type { 'dir' }
    sub plugindata { { content => [ { images => 1 }, { images => 1 } ] } }
    sub properties { { path => { type => 'string' } } }
    sub options { { path => {}, content => { optional => 1 } } }
    sub activate_volume { my ($class, $storeid, $scfg, $volname) = @_; push @seen, $volname; return }
}
package main;
my $d = tempdir(CLEANUP => 1);
mkdir "$d/images";
mkdir "$d/images/100";
open(my $fh, '>', "$d/images/100/vm-100-disk-0.raw") or die;
close($fh);
SKIP: {
    eval { register_plugin('My::PerlDir') };
    skip "a Perl class for dir does not register here: $@", 3 if $@;
    my $dcfg = parse_config("dir: dd\n\tpath $d\n\tcontent images\n", 'storage.cfg');
    $r = PVE::Storage::XS::activate_volumes_report($dcfg, ['dd:100/vm-100-disk-0.raw'], undef, undef,
                                                   { dry_run => 1 });
    is($r->[0]{action}, 'skipped-dry-run', 'a Perl class serving dir is not asked in a dry run');
    is_deeply(\@My::PerlDir::seen, [], 'not called');
    PVE::Storage::XS::activate_volumes($dcfg, ['dd:100/vm-100-disk-0.raw']);
    is_deeply(\@My::PerlDir::seen, ['100/vm-100-disk-0.raw'], 'but in a real run');
}

done_testing();
