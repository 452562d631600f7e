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
        vg0 => { type => 'lvm', vgname => 'pve', content => { images => 1 } },
    },
    order => { local => 1, 'shared-nfs' => 2, broken => 3, vg0 => 4 },
}, 'parsed like PVE::Storage::config()');

is_deeply(\@warnings, [
    "file $file line 15 (section 'broken') - unable to parse value of 'maxfiles': unknown property type\n",
    "file $file line 16 (section 'broken') - unable to parse value of 'frob': unknown property type\n",
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

# What upstream's own parser made of a node with every storage type, and of
# a file of bad values (core/tests/data, from scripts/upstream-golden.sh):
# the same hash, the same warnings in the same order.
use JSON::PP;
use FindBin;
for my $name (qw(node bad)) {
    my $data = "$FindBin::Bin/../core/tests/data";
    my $want = do {
        open(my $jf, '<', "$data/$name.upstream.json") or die "$data/$name.upstream.json: $!";
        local $/;
        JSON::PP->new->decode(<$jf>);
    };
    my $text = do { open(my $cf, '<', "$data/$name.cfg") or die; local $/; <$cf> };
    my @w;
    my $got = do {
        local $SIG{__WARN__} = sub { push @w, $_[0] };
        PVE::Storage::XS::parse_config($text, '/etc/pve/storage.cfg');
    };
    is_deeply($got, { ids => $want->{ids}, order => $want->{order} }, "$name: parsed as upstream parses it");
    is_deeply(\@w, $want->{warnings}, "$name: upstream's warnings");
}

done_testing();
