#!/usr/bin/perl
# One module per public class, and the export tags.
use strict;
use warnings;
use Test::More;

# a subclass in the style of a third-party plugin, loading only the class it extends
package My::DirLike {
    use parent 'PVE::Storage::XS::Plugin::Dir';
}

package main;

is(My::DirLike->type, 'dir', "use parent 'PVE::Storage::XS::Plugin::Dir' works on its own");
is(My::DirLike->api, 13, 'and its methods reach the C plugin');
for my $m (qw(PVE::Storage::XS::Plugin PVE::Storage::XS::Plugin::Dir PVE::Storage::XS::Plugin::RBD)) {
    (my $f = "$m.pm") =~ s{::}{/}g;
    ok($INC{$f}, "$m has its own file");
    is($m->VERSION, $PVE::Storage::XS::VERSION, "$m has the distribution's version");
}
like($PVE::Storage::XS::VERSION, qr/^\d+\.\d+\.\d+$/, 'a real version');

use PVE::Storage::XS ();
my %tags = %PVE::Storage::XS::EXPORT_TAGS;
is_deeply([sort keys %tags], [qw(all config hints plugins settings volumes)], 'the tags');
is_deeply([sort @{ $tags{all} }], [sort @PVE::Storage::XS::EXPORT_OK], ':all is everything');
{
    package T::All;
    PVE::Storage::XS->import(':all');
    main::ok(defined(&T::All::activate_volumes) && defined(&T::All::register_plugin)
             && defined(&T::All::storage_hints), ':all imports the functions');
    package T::Hints;
    PVE::Storage::XS->import(':hints');
    main::ok(defined(&T::Hints::verify_hints) && !defined(&T::Hints::activate_volumes), ':hints imports the hints only');
}

done_testing();
