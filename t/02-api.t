#!/usr/bin/perl
# Constants, the hint tables as Proxmox shapes them, settings.
use strict;
use warnings;
use Test::More;
use JSON::PP;

use PVE::Storage::XS qw(APIVER APIAGE $hints_properties $hints_format is_hint_supported
                        parse_volume_id configure settings);

is(APIVER, 15, 'APIVER');
is(APIAGE, 6, 'APIAGE');
is(PVE::Storage::XS::APIVER(), 15, 'APIVER as a function');

is_deeply($hints_properties, {
    'guest-is-windows' => {
        type => 'boolean', optional => 1,
        description => 'true if the volume belongs to a Windows VM guest',
    },
    'plugin-may-deactivate-volume' => {
        type => 'boolean', optional => 1,
        description => 'true if the plugin may deactivate the volume in order to apply a hint',
    },
}, '$hints_properties');
is($hints_format->{type}, 'object', '$hints_format type');
is($hints_format->{additionalProperties}, 0, '$hints_format additionalProperties');
is($hints_format->{properties}, $hints_properties, '$hints_format->{properties} is $hints_properties');

ok(is_hint_supported('guest-is-windows'), 'guest-is-windows supported');
ok(is_hint_supported('plugin-may-deactivate-volume'), 'plugin-may-deactivate-volume supported');
ok(!is_hint_supported('Guest-Is-Windows'), 'case-sensitive');
ok(!is_hint_supported('guest-is-windows '), 'exact');
ok(!is_hint_supported(''), 'empty name');
ok(!is_hint_supported(undef), 'undef name');
ok(!is_hint_supported("guest-is-windows\0"), 'NUL byte');

my $schema = decode_json(PVE::Storage::XS::hints_json_schema());
is($schema->{'$schema'}, 'https://json-schema.org/draft/2020-12/schema', 'JSON Schema draft');
ok(!$schema->{additionalProperties}, 'JSON Schema: no additional properties');
is_deeply([sort keys %{ $schema->{properties} }], [sort keys %$hints_properties], 'JSON Schema properties');

# parse_volume_id
is_deeply([parse_volume_id('store:100/vm-100-disk-0.raw')], ['store', '100/vm-100-disk-0.raw'], 'list context');
is(scalar(parse_volume_id('store:iso/x.iso')), 'store', 'scalar context: the storage ID');
eval { parse_volume_id('nonsense') };
is($@, "unable to parse volume ID 'nonsense'\n", 'bad volume ID dies');
# the die value is a string to string comparisons and matches, and tells more when asked
{
    my $e = $@;
    isa_ok($e, 'PVE::Storage::XS::Error');
    is("$e", "unable to parse volume ID 'nonsense'\n", 'it stringifies to the message exactly');
    ok($e =~ /^unable to parse volume ID/ && $e eq "unable to parse volume ID 'nonsense'\n", '=~ and eq work');
    is($e->code, 'EINVAL', 'its code');
    is($e->message, "$e", 'its message');
    is($e->exit_status, undef, 'no command ran');
}
is(scalar(parse_volume_id('nonsense', 1)), undef, 'noerr');
is(scalar(my @l = parse_volume_id('nonsense', 1)), 0, 'noerr: empty list');
eval { parse_volume_id("store:x\0y") };
is($@, "volume ID 'store:x\\0y' contains a NUL byte\n", 'NUL byte in a volume ID');

# settings
my $s = settings();
is($s->{root}, $ENV{PVESTORAGE_ROOT} // '/', 'default root');
configure(root => '/tmp/fake-root', kernel_version => '5.15', ceph_timeout => 5);
is(settings()->{root}, '/tmp/fake-root', 'root set');
is(settings()->{kernel_version}, '5.15', 'kernel_version set');
is(settings()->{ceph_timeout}, '5', 'ceph_timeout set');
eval { configure(root => '/elsewhere', colour => 'blue') };
is($@, "unknown setting 'colour' (known: root, rbd_command, ceph_timeout, kernel_version)\n", 'unknown setting');
is(settings()->{root}, '/tmp/fake-root', 'a failed configure changes nothing');
eval { configure(ceph_timeout => 'soon') };
is($@, "invalid value for setting 'ceph_timeout': 'soon' (seconds, 1..3600)\n", 'bad value');
eval { configure('root') };
is($@, "configure: settings come as NAME => VALUE pairs\n", 'odd argument list');
configure(root => '/', ceph_timeout => 60);

done_testing();
