package PVSTestCeph;
# What the Perl suites share about the Ceph test cluster: its env file
# (scripts/ceph-test-cluster.sh writes KEY=VALUE lines, values maybe quoted).
use strict;
use warnings;

sub read_env {
    my ($file) = @_;
    my %env;
    open(my $fh, '<', $file) or die "$file: $!\n";
    while (my $line = <$fh>) {
        chomp $line;
        next if $line !~ /^(\w+)=(.*)$/;
        my ($k, $v) = ($1, $2);
        $v =~ s/^'|'$//g;
        $env{$k} = $v;
    }
    close($fh);
    return %env;
}

1;
