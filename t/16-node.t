#!/usr/bin/perl
# A node's own storages (lvm, lvmthin ...) from Perl against upstream: each
# case of core/tests/data/node_cases.json runs through PVE::Storage::XS with
# the node's tools answering as the case says (fake-node under a test
# root), and every argv run, the result, the error and the warnings must
# be what upstream's storage layer did with the same answers
# (core/tests/data/node_cases.upstream.json, from upstream's own code).
use strict;
use warnings;
use Test::More;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use FindBin;
use JSON::PP;
use IO::Socket::INET;
use POSIX ();

use PVE::Storage::XS qw(activate_volumes deactivate_volumes activate_storage deactivate_storage path
                        storage_status list_volumes parse_config configure);

my $top = abs_path("$FindBin::Bin/..");
my $fake = "$top/build/core/tests/fake-node";
plan skip_all => "SKIP: $fake is not built (run scripts/build.sh)" if !-x $fake;

my $json = JSON::PP->new->canonical;
sub slurp { local $/; open(my $f, '<', $_[0]) or die "$_[0]: $!"; return <$f> }
my $spec = decode_json(slurp("$top/core/tests/data/node_cases.json"));
my $gold = decode_json(slurp("$top/core/tests/data/node_cases.upstream.json"));
is(scalar(@{ $spec->{cases} }), scalar(@{ $gold->{cases} }), 'one upstream result per case');

my @tools = qw(vgs lvs lvchange vgscan vgchange udevadm zpool zfs iscsiadm blockdev iscsi-ls);

# the answering iSCSI portal the golden file's run had (another test's
# listener on the port serves as well): a child that lets the client close
# first, so no TIME_WAIT holds the port afterwards
my $portal = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 13260, Listen => 64, ReuseAddr => 1,
                                   ReusePort => 1);
my $listener = $portal ? fork() : undef;
if (defined($listener) && $listener == 0) {
    while (my $c = $portal->accept()) { 1 while sysread($c, my $buf, 64); close($c) }
    POSIX::_exit(0);
}
close($portal) if $portal;
END { if ($listener) { local $?; kill('KILL', $listener) && waitpid($listener, 0) } }

sub put_file { my ($path, $text) = @_; make_path(dirname($path)); open(my $f, '>', $path) or die "$path: $!";
    print $f $text; close $f }

sub case_files {   # iscsiadm, iscsi-ls (unless absent), the case's dirs, files, links and aged files
    my ($root, $c) = @_;
    my %absent = map { $_ => 1 } @{ $c->{absent} // [] };
    for my $bin (grep { !$absent{$_} } qw(/usr/bin/iscsiadm /usr/bin/iscsi-ls)) {
        make_path(dirname("$root$bin"));
        symlink($fake, "$root$bin") or die "symlink: $!";
    }
    make_path("$root$_") for @{ $c->{dirs} // [] };
    put_file("$root$_", $c->{files}{$_}) for sort keys %{ $c->{files} // {} };
    for my $l (sort keys %{ $c->{links} // {} }) {
        make_path(dirname("$root$l"));
        symlink($c->{links}{$l}, "$root$l") or die "symlink: $!";
    }
    utime(time() - 3600, time() - 3600, "$root$_") or die "utime: $!" for @{ $c->{aged} // [] };
}

sub make_root {   # the tools, the case's answers, its block devices (or undef: not root)
    my ($c) = @_;
    my $root = tempdir(CLEANUP => 1);
    make_path("$root/sbin");
    symlink($fake, "$root/sbin/$_") or die "symlink: $!" for @tools;
    open(my $f, '>', "$root/responses.json") or die;
    print $f $json->encode({ responses => $c->{responses} });
    close $f;
    for my $dev (@{ $c->{devices} // [] }) {
        return undef if $> != 0;
        make_path(dirname("$root$dev"));
        system('mknod', "$root$dev", 'b', '7', '200') == 0 or return undef;
    }
    case_files($root, $c);
    return $root;
}

sub status_of {   # upstream's status values of one storage, as the golden file has them
    my ($cfg, $sid) = @_;
    my $one = { ids => { $sid => $cfg->{ids}{$sid} }, order => { $sid => 1 } };
    my ($s) = grep { $_->{storage} eq $sid } @{ storage_status($one) };
    my $r = { active => $s->{active} ? 1 : 0 };
    # an inactive storage's sizes mean nothing (as upstream's storage_info takes them)
    $r->{$_} = $s->{$_} for grep { $s->{active} && exists $s->{$_} } qw(total used avail);
    return $r;
}

sub run_call {
    my ($cfg, $c) = @_;
    my $op = $c->{op};
    return activate_volumes($cfg, $c->{volids}, $c->{snapname}) && undef if $op eq 'activate';
    return deactivate_volumes($cfg, $c->{volids}, $c->{snapname}) && undef if $op eq 'deactivate';
    return activate_storage($cfg, $c->{storeid}) && undef if $op eq 'activate_storage';
    return deactivate_storage($cfg, $c->{storeid}) && undef if $op eq 'deactivate_storage';
    return scalar path($cfg, $c->{volid}, $c->{snapname}) if $op eq 'path';
    return status_of($cfg, $c->{storeid}) if $op eq 'status';
    return list_volumes($cfg, $c->{storeid}, $c->{vmid}) if $op eq 'list';
    die "unknown op $op\n";
}

sub logged {
    my ($root) = @_;
    return [] if !-e "$root/log";
    return [ map { decode_json($_) } split /\n/, slurp("$root/log") ];
}

for my $i (0 .. $#{ $spec->{cases} }) {
    my ($c, $g) = ($spec->{cases}[$i], $gold->{cases}[$i]);
    my $root = make_root($c);
  SKIP: {
        skip "SKIP: $c->{name}: needs root (mknod of its block devices)", 1 if !$root;
        local @ENV{qw(FAKE_NODE_CASE FAKE_NODE_LOG)} = ("$root/responses.json", "$root/log");
        configure(root => $root);
        my $warned = '';   # split as a whole, as upstream's are (a warning may end in an empty line)
        local $SIG{__WARN__} = sub { $warned .= $_[0] };
        my $cfg = parse_config($spec->{storage_cfg});
        my $result = eval { run_call($cfg, $c->{call}) };
        my $err = $@ eq '' ? undef : "$@";
        # numbers as numbers: JSON::PP compares what it prints
        my $ours = decode_json($json->encode({ commands => logged($root), result => $result, error => $err,
                                               warnings => [ split /\n/, $warned ] }));
        my $want = { map { $_ => $g->{$_} } qw(commands result error warnings) };
        is_deeply($ours, $want, $c->{name}) or diag($json->encode($ours));
        remove_tree($root);
    }
}
configure(root => '/');
done_testing();
