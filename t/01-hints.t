#!/usr/bin/perl
# verify_hints through XS: acceptance rules, exact messages, noerr, the same
# reference back, the caller's data untouched, Perl value kinds.
use strict;
use warnings;
use Test::More;
use Scalar::Util qw(dualvar refaddr);
use Data::Dumper;
use JSON::PP;

use PVE::Storage::XS qw(verify_hints);

$Data::Dumper::Sortkeys = 1;

my $HDR = "internal error - hints are not valid: 400 Parameter verification failed.\n";
my $UNKNOWN = 'property is not defined in schema and the schema does not allow additional properties';
sub boolfail { my ($k, $got) = @_; return "$HDR$k: type check ('boolean') failed - got $got\n" }

my $gw = 'guest-is-windows';
my $pm = 'plugin-may-deactivate-volume';

my @accept = (
    [ 'empty' => {} ],
    [ 'JSON true' => { $gw => JSON::PP::true } ],
    [ 'JSON false' => { $gw => JSON::PP::false } ],
    [ 'integer 1' => { $gw => 1 } ],
    [ 'integer 0' => { $gw => 0 } ],
    [ 'string 1' => { $gw => '1' } ],
    [ 'string 0' => { $gw => '0' } ],
    [ 'NV 1.0' => { $gw => 1.0 } ],
    [ 'NV 0.0' => { $gw => 0.0 } ],
    [ 'NV 1e0' => { $gw => 1e0 } ],
    [ 'computed 3/3' => { $gw => 3 / 3 } ],
    [ 'Perl true !!1' => { $gw => !!1 } ],
    [ 'undef value' => { $gw => undef } ],
    [ 'both hints' => { $gw => 1, $pm => 1 } ],
    [ 'both, mixed kinds' => { $gw => JSON::PP::true, $pm => '0' } ],
    [ 'dualvar judged by string "1"' => { $gw => dualvar(5, '1') } ],
    [ 'JSON-decoded' => decode_json('{"guest-is-windows": true, "plugin-may-deactivate-volume": false}') ],
    [ 'subclass of JSON::PP::Boolean' => { $gw => bless(do { \(my $x = 1) }, 'My::Bool') } ],
);
@My::Bool::ISA = ('JSON::PP::Boolean');

my @reject = (
    [ 'integer 2' => { $gw => 2 }, boolfail($gw, "'2'") ],
    [ 'integer -1' => { $gw => -1 }, boolfail($gw, "'-1'") ],
    [ 'NV 0.5' => { $gw => 0.5 }, boolfail($gw, "'0.5'") ],
    [ 'NV 1e20' => { $gw => 1e20 }, boolfail($gw, "'1e+20'") ],
    [ 'NV 1/3' => { $gw => 1 / 3 }, boolfail($gw, "'0.333333333333333'") ],
    [ 'inf' => { $gw => 9**9**9 }, boolfail($gw, "'Inf'") ],
    [ 'empty string' => { $gw => '' }, boolfail($gw, "''") ],
    [ 'Perl false !!0' => { $gw => !!0 }, boolfail($gw, "''") ],
    [ 'true' => { $gw => 'true' }, boolfail($gw, "'true'") ],
    [ 'yes' => { $gw => 'yes' }, boolfail($gw, "'yes'") ],
    [ 'on' => { $gw => 'on' }, boolfail($gw, "'on'") ],
    [ '01' => { $gw => '01' }, boolfail($gw, "'01'") ],
    [ 'leading blank' => { $gw => ' 1' }, boolfail($gw, "' 1'") ],
    [ 'trailing newline' => { $gw => "1\n" }, boolfail($gw, "'1\n'") ],
    [ '1.0 as string' => { $gw => '1.0' }, boolfail($gw, "'1.0'") ],
    [ '+1' => { $gw => '+1' }, boolfail($gw, "'+1'") ],
    [ 'NUL byte' => { $gw => "1\0" }, boolfail($gw, "'1\0'") ],
    [ 'dualvar judged by string "yes"' => { $gw => dualvar(1, 'yes') }, boolfail($gw, "'yes'") ],
    [ 'UTF-8 string kept' => { $gw => "Fen\x{fc}ster \x{2713}" }, boolfail($gw, "'Fen\x{fc}ster \x{2713}'") ],
    [ 'Latin-1 bytes' => { $gw => "caf\xe9" }, boolfail($gw, "'caf\x{e9}'") ],
    [ 'HASH' => { $gw => {} }, boolfail($gw, 'HASH') ],
    [ 'ARRAY' => { $gw => [1] }, boolfail($gw, 'ARRAY') ],
    [ 'CODE' => { $gw => sub { 1 } }, boolfail($gw, 'CODE') ],
    [ 'SCALAR' => { $gw => \1 }, boolfail($gw, 'SCALAR') ],
    [ 'REF' => { $gw => \\1 }, boolfail($gw, 'REF') ],
    [ 'GLOB' => { $gw => \*STDOUT }, boolfail($gw, 'GLOB') ],
    [ 'Regexp' => { $gw => qr/x/ }, boolfail($gw, 'Regexp') ],
    [ 'blessed object' => { $gw => bless({}, 'Foo') }, boolfail($gw, 'Foo') ],
    [ 'unknown key' => { foo => 1 }, "${HDR}foo: $UNKNOWN\n" ],
    [ 'unknown key, undef value' => { foo => undef }, "${HDR}foo: $UNKNOWN\n" ],
    [ 'case matters' => { 'Guest-Is-Windows' => 1 }, "${HDR}Guest-Is-Windows: $UNKNOWN\n" ],
    [ 'key ""' => { '' => 1 }, "${HDR}_root: $UNKNOWN\n" ],
    [ 'key "0"' => { '0' => 1 }, "${HDR}_root: $UNKNOWN\n" ],
    [ 'key "00"' => { '00' => 1 }, "${HDR}00: $UNKNOWN\n" ],
    [ 'keys "" and "0" joined' => { '' => 1, '0' => 2 }, "${HDR}_root: $UNKNOWN\\n$UNKNOWN\n" ],
    [ 'UTF-8 key' => { "gr\x{fc}n" => 1 }, "${HDR}gr\x{fc}n: $UNKNOWN\n" ],
    [ 'sorted by key' => { zzz => 1, $gw => 'no', aaa => 1, $pm => 7 },
      "${HDR}aaa: $UNKNOWN\n$gw: type check ('boolean') failed - got 'no'\n$pm: type check ('boolean') failed - got '7'\nzzz: $UNKNOWN\n" ],
    [ 'array' => [], "${HDR}_root: type check ('object') failed\n" ],
    [ 'string' => 'guest-is-windows', "${HDR}_root: type check ('object') failed\n" ],
    [ 'number' => 1, "${HDR}_root: type check ('object') failed\n" ],
    [ 'code' => sub { }, "${HDR}_root: type check ('object') failed\n" ],
    [ 'blessed hash' => bless({ $gw => 1 }, 'Hints'), "${HDR}_root: type check ('object') failed\n" ],
    [ 'JSON true as hints' => JSON::PP::true, "${HDR}_root: type check ('object') failed\n" ],
);

cmp_ok(scalar(@accept) + scalar(@reject), '>=', 50, 'at least 50 vectors');

for my $t (@accept) {
    my ($name, $hints) = @$t;
    my $before = Dumper($hints);
    my $res = eval { verify_hints($hints) };
    is($@, '', "$name: accepted");
    ok(ref($res) && refaddr($res) == refaddr($hints), "$name: the same reference back");
    is(Dumper($hints), $before, "$name: caller's hints untouched");
}

for my $t (@reject) {
    my ($name, $hints, $msg) = @$t;
    my $before = Dumper($hints);
    eval { verify_hints($hints) };
    is($@, $msg, "$name: message");
    is(verify_hints($hints, 1), undef, "$name: noerr returns undef");
    my @list = verify_hints($hints, 1);
    is(scalar(@list), 0, "$name: noerr returns an empty list in list context");
    is(Dumper($hints), $before, "$name: caller's hints untouched");
}

# undef hints: no error, nothing back
is(verify_hints(undef), undef, 'undef hints are fine');
is(verify_hints(undef, 1), undef, 'undef hints with noerr');
is(scalar(my @none = verify_hints(undef)), 0, 'undef hints: empty list in list context');

# cycles anywhere: only the cycle message, and no endless recursion
{
    my $h = { $gw => 1 };
    $h->{self} = $h;
    eval { verify_hints($h) };
    is($@, "${HDR}_root: data structure contains recursive cycles\n", 'self-referencing hash');
    my $a = [];
    push @$a, $a;
    eval { verify_hints({ $gw => $a }) };
    is($@, "${HDR}_root: data structure contains recursive cycles\n", 'cycle in a value');
    my $s;
    $s = \$s;
    eval { verify_hints({ foo => $s }) };
    is($@, "${HDR}_root: data structure contains recursive cycles\n", 'scalar ref cycle');
    my $shared = [1];
    eval { verify_hints({ $gw => [$shared, $shared] }) };
    is($@, boolfail($gw, 'ARRAY'), 'a shared, acyclic ref is no cycle');
    # upstream's validate checks no cycles when the top hash has a 'download' key
    my $d = { download => 1, $gw => 1 };
    $d->{self} = $d;
    eval { verify_hints($d) };
    is($@, "${HDR}download: property is not defined in schema and the schema does not allow additional properties\n"
         . "self: property is not defined in schema and the schema does not allow additional properties\n",
       'a cycle under a download key: the schema errors instead');
    my $e = { download => 1 };
    $e->{$gw} = $e;
    eval { verify_hints($e) };
    like($@, qr/^\Q${HDR}\Edownload: .*\n\Q$gw\E: type check \('boolean'\) failed - got HASH\n\z/,
         'a known hint whose value is the cycle: its type');
}

# deep nesting: an error, never a crash
{
    my $deep = 1;
    $deep = [$deep] for 1 .. 10000;
    eval { verify_hints({ $gw => $deep }) };
    is($@, "hints are nested too deeply\n", 'deeply nested value: an error, not a crash');
}

# magic: tied hashes and tied scalars are read through their FETCH
{
    package Tied::Hash;
    require Tie::Hash;
    our @ISA = ('Tie::StdHash');
    package Tied::Scalar;
    sub TIESCALAR { my ($c, $v) = @_; return bless { v => $v, n => 0 }, $c }
    sub FETCH { my $s = shift; $s->{n}++; return $s->{v} }
    package main;

    tie my %h, 'Tied::Hash';
    %h = ($gw => 1, $pm => 0);
    ok(eval { verify_hints(\%h) }, 'tied hash with valid hints') or diag $@;
    $h{$gw} = 'maybe';
    eval { verify_hints(\%h) };
    is($@, boolfail($gw, "'maybe'"), 'tied hash with an invalid value');

    tie my $v, 'Tied::Scalar', 'nope';
    eval { verify_hints({ $gw => $v }) };
    is($@, boolfail($gw, "'nope'"), 'a tied scalar value is FETCHed');
    my $obj = tied($v);
    cmp_ok($obj->{n}, '>=', 1, 'FETCH was called');
    # $1 is a magical scalar
    "1" =~ /(\d)/;
    ok(eval { verify_hints({ $gw => $1 }) }, 'regex capture variable $1');
}

# the numeric and string sides of a value are not changed by the check
{
    my $n = 1;
    my $h = { $gw => $n };
    verify_hints($h);
    ok(!utf8::is_utf8($h->{$gw}), 'no UTF-8 flag added');
    my $bytes = "caf\xe9";
    my $hb = { $gw => $bytes };
    eval { verify_hints($hb) };
    ok(!utf8::is_utf8($hb->{$gw}), 'a byte string stays a byte string');
}

# qemu-server's rule for a VM's hints
is_deeply(PVE::Storage::XS::storage_hints('win11', 1),
          { 'guest-is-windows' => 1, 'plugin-may-deactivate-volume' => 1 }, 'storage_hints: Windows at VM start');
is_deeply(PVE::Storage::XS::storage_hints('l26'),
          { 'guest-is-windows' => 0, 'plugin-may-deactivate-volume' => 0 }, 'storage_hints: Linux');
is_deeply([map { PVE::Storage::XS::storage_hints($_)->{'guest-is-windows'} } qw(wxp w2k w2k3 w2k8 wvista win7 win0 win00 Win10 other)],
          [1, 1, 1, 1, 1, 1, 0, 1, 0, 0], 'windows_version, as qemu-server');
is_deeply(PVE::Storage::XS::generate_storage_hints({ ostype => 'win10' }, 1),
          { 'guest-is-windows' => 1, 'plugin-may-deactivate-volume' => 1 }, 'generate_storage_hints($conf, 1)');
is_deeply(PVE::Storage::XS::generate_storage_hints({}),
          { 'guest-is-windows' => 0, 'plugin-may-deactivate-volume' => 0 }, 'no ostype');

# the vectors every suite reads (core/tests/data/hint_vectors.json): the
# same judgement and the same message through Perl
{
    use FindBin;
    my $file = "$FindBin::Bin/../core/tests/data/hint_vectors.json";
    open(my $fh, '<:raw', $file) or die "$file: $!\n";
    my $doc = JSON::PP->new->utf8->decode(do { local $/; <$fh> });
    cmp_ok(scalar(@{ $doc->{vectors} }), '>', 40, 'the shared hint vectors are read');
    for my $v (@{ $doc->{vectors} }) {
        my $shown = JSON::PP->new->utf8->canonical->allow_nonref->encode($v->{hints});
        my $got = eval { verify_hints($v->{hints}); 'valid' } // "$@";
        my $want = $v->{error} // 'valid';
        is($got, $want, "vector $shown");
    }
}

done_testing();
