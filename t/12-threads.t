#!/usr/bin/perl
# PVE::Storage::XS under Perl threads: each interpreter frees exactly its
# own state (a joined thread used to free its parent's context, and the
# parent's next call crashed); a new thread starts with its parent's
# settings and registered classes; threads work at once, each with a Perl
# plugin of its own; a thread made inside a plugin call leaves the call
# intact.
use strict;
use warnings;
use Config;
BEGIN {
    if (!$Config{useithreads}) {
        print "1..0 # SKIP this perl is built without ithreads: no threads to test\n";
        print STDERR "# SKIPPED: t/12-threads.t needs a perl with ithreads (\$Config{useithreads})\n";
        exit 0;
    }
}
use threads;
use Test::More;
use File::Temp qw(tempdir);
use File::Path qw(make_path);

use PVE::Storage::XS qw(register_plugin parse_config path activate_volumes deactivate_volumes configure settings
                        verify_hints);

my $rounds = $ENV{PVS_UNDER_VALGRIND} ? 3 : 40;
my $dir = tempdir(CLEANUP => 1);
make_path("$dir/template/iso");
open(my $fh, '>', "$dir/template/iso/x.iso") or die;
close($fh);
my $cfg = parse_config("dir: d1\n\tpath $dir\n\tcontent iso,images\n");

# the parent keeps working once a thread has come and gone
threads->create(sub { 1 })->join;
is(path($cfg, 'd1:iso/x.iso'), "$dir/template/iso/x.iso", 'the parent works after a thread was joined');
is_deeply(PVE::Storage::XS::parse_config("dir: local\n\tpath /x\n")->{ids}{local}{type}, 'dir',
          'parse_config too (the call of the issue)');
threads->create(sub { path($cfg, 'd1:iso/x.iso') })->join for 1 .. 3;
is(path($cfg, 'd1:iso/x.iso'), "$dir/template/iso/x.iso", 'and after threads that made calls');

# a class registered in the parent, and the parent's settings
package My::Inherited {
    our @calls;
    sub api { 15 }
    sub type { 'inherited' }
    sub plugindata { { content => [ { images => 1 }, { images => 1 } ] } }
    sub options { { content => { optional => 1 }, 'inh-level' => { optional => 1 } } }
    sub properties { { 'inh-level' => { type => 'integer', minimum => 1, maximum => 3 } } }
    sub parse_volname { return ('images', $_[1], 100, undef, undef, undef, 'raw') }
    sub path { return "/dev/inherited/$_[2]" }
    sub activate_volume { push @calls, "$_[3] in thread " . threads->tid; return 1 }
}
package main;
register_plugin('My::Inherited');
configure(kernel_version => '4.19', ceph_timeout => 7);
my $icfg = parse_config("inherited: in1\n\tinh-level 2\n\tcontent images\n");

my $seen = threads->create(sub {
    my @w;
    local $SIG{__WARN__} = sub { push @w, @_ };
    my $s = settings();
    my $c = parse_config("inherited: in2\n\tinh-level 9\n\tcontent images\n");
    activate_volumes($icfg, ['in1:vm-100-disk-0']);
    configure(kernel_version => '5.15');   # the thread's own from now on
    return [$s->{kernel_version}, $s->{ceph_timeout}, scalar(path($icfg, 'in1:vm-100-disk-0')), [@My::Inherited::calls],
            scalar(@w), $c->{ids}{in2}, threads->tid];
})->join;
is($seen->[0], '4.19', 'a new thread has the parent\'s settings');
is($seen->[1], '7', 'all of them');
is($seen->[2], '/dev/inherited/vm-100-disk-0', 'and the parent\'s registered class serves its type there');
is_deeply($seen->[3], ["vm-100-disk-0 in thread $seen->[6]"], 'the thread\'s own copy of the class ran');
is_deeply($seen->[5], { type => 'inherited', content => { images => 1 } },
          'the class\'s properties check the thread\'s sections (inh-level 9 > 3: dropped)');
is($seen->[4], 1, 'with the parser\'s warning there');
is(settings()->{kernel_version}, '4.19', 'a thread\'s configure leaves the parent\'s settings');
is_deeply(\@My::Inherited::calls, [], 'and the parent\'s copy of the class was not called');
my $twice = threads->create(sub {
    my @w;
    local $SIG{__WARN__} = sub { push @w, @_ };
    my $ok = eval { register_plugin('My::Inherited'); 1 };
    return [$ok, "$@", scalar(@w)];
})->join;
is_deeply($twice, [undef, "duplicate storage plugin type 'inherited'\n", 0],
          'the thread has it registered already (and no older-API warning again)');

# a plugin is a class (a thread re-registers it by name, for its own copy)
eval { register_plugin(bless {}, 'My::Inherited') };
is("$@", "plugin class must be a class name, not a reference\n", 'an object is refused as a plugin class');

# threads at once, each with a Perl plugin of its own, beside the inherited one
sub worker {
    my ($k) = @_;
    my $class = "My::Worker$k";
    no strict 'refs';
    @{"${class}::calls"} = ();
    *{"${class}::api"} = sub { 15 };
    *{"${class}::type"} = sub { "worker$k" };
    *{"${class}::plugindata"} = sub { { content => [ { images => 1 }, { images => 1 } ] } };
    *{"${class}::options"} = sub { { content => { optional => 1 } } };
    *{"${class}::parse_volname"} = sub { return ('images', $_[1], 100, undef, undef, undef, 'raw') };
    *{"${class}::path"} = sub { return "/dev/worker$k/$_[2]" };
    *{"${class}::activate_volume"} = sub { push @{"${class}::calls"}, $_[3]; die "worker$k: $_[3] broken\n" if $_[3] =~ /broken/; 1 };
    *{"${class}::deactivate_volume"} = sub { die "worker$k: $_[3] busy\n" if $_[3] =~ /busy/; 1 };
    register_plugin($class);
    my $c = parse_config("worker$k: w$k\n\tcontent images\n\ndir: d1\n\tpath $dir\n\tcontent iso,images\n");
    my @out;
    for my $i (1 .. $rounds) {
        activate_volumes($c, ["w$k:vm-$i-disk-0", 'd1:iso/x.iso']);
        push @out, scalar(path($c, "w$k:vm-$i-disk-0"));
        push @out, eval { activate_volumes($c, ["w$k:vm-$i-broken"]); 1 } ? 'no error' : "$@";
        my @w;
        local $SIG{__WARN__} = sub { push @w, @_ };
        push @out, eval { deactivate_volumes($c, ["w$k:vm-$i-busy", "w$k:vm-$i-disk-0"]); 1 } ? 'no error' : "$@";
        push @out, @w;
        push @out, verify_hints({ 'guest-is-windows' => 1 }) ? 'valid' : 'invalid';
        activate_volumes($icfg, ["in1:vm-$i-disk-$k"]);
    }
    return [\@out, scalar(@{"${class}::calls"}), scalar(@My::Inherited::calls)];
}

my @threads = map { my $k = $_; threads->create(sub { worker($k) }) } 1 .. 4;
my @results = map { $_->join } @threads;
for my $k (1 .. 4) {
    my ($out, $calls, $inherited) = @{ $results[$k - 1] };
    my @want = map { ("/dev/worker$k/vm-$_-disk-0", "worker$k: vm-$_-broken broken\n",
                      "volume deactivation failed: w$k:vm-$_-busy\n", "worker$k: vm-$_-busy busy\n", 'valid') }
               1 .. $rounds;
    is_deeply($out, \@want, "thread $k: every call gave what a serial run gives");
    is($calls, 2 * $rounds, "thread $k: its own class was called for its volumes only");
    is($inherited, $rounds, "thread $k: the inherited class in that thread");
}
is(path($cfg, 'd1:iso/x.iso'), "$dir/template/iso/x.iso", 'the parent after four threads at once');
{
    my @w;
    local $SIG{__WARN__} = sub { push @w, @_ };
    ok(!parse_config("worker1: w1\n")->{ids}{w1}, 'a thread\'s registration stays in that thread');
    is_deeply(\@w, ["file - line 1 (skip section 'w1'): unsupported type 'worker1'\n"], 'the parent knows no such type');
}

# a thread made and joined inside a plugin call, in the middle of a core call
{
    no warnings 'redefine';
    local *My::Inherited::activate_volume = sub {
        my $t = threads->create(sub { scalar(path($cfg, 'd1:iso/x.iso')) });
        push @My::Inherited::calls, $t->join;
        return 1;
    };
    @My::Inherited::calls = ();
    activate_volumes($icfg, ['in1:vm-1-disk-0', 'in1:vm-2-disk-0']);
    is_deeply(\@My::Inherited::calls, ["$dir/template/iso/x.iso", "$dir/template/iso/x.iso"],
              'threads made inside a plugin call work, and the call goes on');
    is(path($icfg, 'in1:vm-3-disk-0'), '/dev/inherited/vm-3-disk-0', 'the parent\'s context is whole afterwards');
}

done_testing();
