#!/usr/bin/perl
# The Perl binding offers exactly what the library's description
# (pvestorage_api.h, read through _api()) says: each call, value and plugin
# method it names for Perl is there, exported and documented; each it marks
# absent on purpose is not; and nothing public is there that it does not
# know.  In the style of Sys::Virt's t/030-api-coverage.t.
use strict;
use warnings;
use Test::More;
use File::Spec;
use FindBin;

use PVE::Storage::XS;

my $api = PVE::Storage::XS::_api();
is($api->{apiver}, PVE::Storage::XS::APIVER, 'the description and the binding agree on APIVER');

# Perl's own machinery in the package, not part of the API
my %machinery = map { $_ => 1 } qw(import bootstrap CLONE);

sub public_subs {
    my ($package) = @_;
    no strict 'refs';
    return grep { !/^_/ && !$machinery{$_} && defined &{"${package}::$_"} } keys %{"${package}::"};
}

my $pod = do {
    my $pm = $INC{'PVE/Storage/XS.pm'};
    open(my $fh, '<', $pm) or die "$pm: $!\n";
    local $/;
    <$fh>;
};
my @items = $pod =~ /^=item (.*)$/mg;
my %exported = map { $_ => 1 } @PVE::Storage::XS::EXPORT_OK;

my %known;
for my $row (@{ $api->{calls} }, @{ $api->{values} }) {
    my ($name, $perl) = ($row->{name}, $row->{perl});
    ok(defined($perl) && length($perl), "$name: the description names it for Perl or says why not");
    if ($perl =~ /^-(.*)/) {
        cmp_ok(length($1), '>', 10, "$name: absent from Perl on purpose, and why ($1)");
        no strict 'refs';
        ok(!defined(&{"PVE::Storage::XS::$name"}), "$name: absent on purpose, so not defined either");
        next;
    }
    $known{$perl} = 1;
    if ($perl =~ /^\$(.*)/) {
        no strict 'refs';
        my $v = $1;
        my $var = $v =~ /::/ ? $v : "PVE::Storage::XS::$v";
        ok(defined(${$var}), "$name: \$$var is set") or diag("$var");
    } else {
        ok(PVE::Storage::XS->can($perl), "$name: PVE::Storage::XS::$perl exists");
    }
    next if $perl =~ /::/;
    ok($exported{$perl}, "$name: $perl can be exported");
    ok(scalar(grep { /(^|[\s,])\Q$perl\E(\(|,|$|\s)/ } @items), "$name: $perl is documented (=item)");
}

for my $sub (sort(public_subs('PVE::Storage::XS'))) {
    ok($known{$sub}, "PVE::Storage::XS::$sub is in the description");
}
for my $tag (sort keys %PVE::Storage::XS::EXPORT_TAGS) {
    for my $name (@{ $PVE::Storage::XS::EXPORT_TAGS{$tag} }) {
        ok($exported{$name}, "tag :${tag}: $name is one of the described exports");
    }
}

# the calls on one volume or storage: each a call of the description, and
# (but path, whose list context XS.pm adds) an entry point of the XSUB
my %calls = map { $_->{name} => $_ } @{ $api->{calls} };
for my $c (@{ $api->{one_calls} }) {
    ok($calls{ $c->{name} }, "one-call $c->{name} is a described call");
    ok(PVE::Storage::XS->can($c->{name}), "one-call $c->{name} exists in Perl");
}

# plugin methods: each a method of PVE::Storage::XS::Plugin, which the XSUB
# the plugin classes call knows by name; the class's declarations and upstream's base helpers
# (no plugin slot) besides
my %class_only = map { $_ => 1 } qw(type api get_subdir filesystem_path);
my %methods = map { $_->{name} => 1 } @{ $api->{methods} };
for my $m (sort keys %methods) {
    ok(PVE::Storage::XS::Plugin->can($m), "plugin method $m: PVE::Storage::XS::Plugin->$m");
    eval { PVE::Storage::XS::_plugin_call('dir', $m) };
    unlike($@, qr/no plugin method/, "plugin method $m: the XSUB knows it by name");
}
eval { PVE::Storage::XS::_plugin_call('dir', 'no_such_method') };
like($@, qr/^no plugin method 'no_such_method'/, 'a method the description does not know is refused by name');
for my $sub (sort(public_subs('PVE::Storage::XS::Plugin'))) {
    ok($methods{$sub} || $class_only{$sub}, "PVE::Storage::XS::Plugin->$sub is a described method");
}

# error codes: the names ->code gives, for the core's errors and the binding's own alike
my %codes = map { $_->{name} => 1 } @{ $api->{errors} };
ok($codes{EINVAL} && $codes{EHINTS} && $codes{EPLUGIN}, 'the codes are described by name');
eval { PVE::Storage::XS::parse_volume_id('no colon') };
is(ref($@) && $@->code, 'EINVAL', "the core's error: code EINVAL");
eval { PVE::Storage::XS::activate_volumes({ ids => {} }, 'not a list') };
is(ref($@) && $@->code, 'EINVAL', "an error the binding finds itself carries a code too (EINVAL, not OK)");
my $deep = {};
$deep = { x => $deep } for 1 .. 200;
eval { PVE::Storage::XS::verify_hints($deep) };
ok(ref($@) && $codes{ $@->code } && $@->code ne 'OK', 'too deep hints: a described code (' . (ref($@) ? $@->code : $@) . ')');

# settings: the described ones, each accepted by configure
my $settings = PVE::Storage::XS::settings();
is_deeply([sort keys %$settings], [sort map { $_->{name} } @{ $api->{settings} }],
    'settings() has exactly the described settings');
PVE::Storage::XS::configure(%$settings);
is_deeply(PVE::Storage::XS::settings(), $settings, 'configure takes each described setting');

done_testing();
