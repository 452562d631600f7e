#!/usr/bin/perl
# read_config: Proxmox's parsed shape, warnings through warn.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use B;

use PVE::Storage::XS;

my $dir = tempdir(CLEANUP => 1);
my $file = "$dir/storage.cfg";
open(my $fh, '>', $file) or die;
print $fh <<"CFG";
dir: local
\tpath /var/lib/vz
\tcontent iso,vztmpl,backup

# cluster storage
dir: shared-nfs
\tpath /mnt/pve/nfs
\tcontent images,rootdir
\tnodes pve1,pve2
\tshared 1
\tdisable

dir: broken
\tpath /srv/broken
\tmaxfiles lots
\tfrob 1

lvm: vg0
\tvgname pve
CFG
close($fh);

my @warnings;
my $cfg = do {
    local $SIG{__WARN__} = sub { push @warnings, $_[0] };
    PVE::Storage::XS::read_config($file);
};

is_deeply($cfg, {
    ids => {
        local => { type => 'dir', path => '/var/lib/vz', content => { iso => 1, vztmpl => 1, backup => 1 } },
        'shared-nfs' => {
            type => 'dir', path => '/mnt/pve/nfs', content => { images => 1, rootdir => 1 },
            nodes => { pve1 => 1, pve2 => 1 }, shared => 1, disable => 1,
        },
        broken => { type => 'dir', path => '/srv/broken', content => { images => 1, rootdir => 1 } },
    },
    order => { local => 1, 'shared-nfs' => 2, broken => 3 },
}, 'parsed like PVE::Storage::config()');

is_deeply(\@warnings, [
    "file $file line 15 (section 'broken') - unable to parse value of 'maxfiles': type check ('integer') failed - got 'lots'\n",
    "file $file line 16 (section 'broken') - unable to parse value of 'frob': unexpected property 'frob'\n",
    "file $file line 18 (skip section 'vg0'): unsupported type 'lvm'\n",
], 'bad lines warned through warn, in order');

# numbers are numbers, as after Proxmox's check_value
ok(B::svref_2object(\$cfg->{ids}{'shared-nfs'}{disable})->FLAGS & B::SVf_IOK(), 'booleans are integers');


eval { PVE::Storage::XS::read_config("$dir/missing.cfg") };
is($@, "unable to read '$dir/missing.cfg' - No such file or directory\n", 'missing file dies');

my $parsed = PVE::Storage::XS::parse_config("dir: x1\n\tpath /x\n", 'inline');
is($parsed->{ids}{x1}{path}, '/x', 'parse_config on text');
{
    my @w;
    local $SIG{__WARN__} = sub { push @w, @_ };
    PVE::Storage::XS::parse_config("what is this\n", 'inline');
    is_deeply(\@w, ["file inline line 1 - ignore config line: what is this\n"], 'parse_config warns');
}

done_testing();
