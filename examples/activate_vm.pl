#!/usr/bin/perl
# activate_vm.pl - hand a VM's volumes to the storage layer, as qemu-server
# does at VM start: the hints from the VM's configuration, then
# activate_volumes for all of them in one call, then each path.
#
#   perl activate_vm.pl STORAGE_CFG OSTYPE VOLID...
use strict;
use warnings;

use PVE::Storage::XS qw(:config :volumes :hints);

my ($cfgfile, $ostype, @volids) = @ARGV;
die "usage: $0 STORAGE_CFG OSTYPE VOLID...\n" if !@volids;

my $cfg = read_config($cfgfile);
my $conf = { ostype => $ostype };                # a VM's configuration, as qemu-server has it
my $hints = generate_storage_hints($conf, 1);    # 1: the VM is starting
activate_volumes($cfg, \@volids, undef, $hints);
for my $volid (@volids) {
    my ($path, $owner, $vtype) = path($cfg, $volid);
    print "$volid $path\n";
}
