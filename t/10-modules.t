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
is(My::DirLike->api, 15, 'and its methods reach the C plugin');
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

# Makefile.PL names a missing library in words (it dies before writing anything)
{
    use FindBin;
    my $top = "$FindBin::Bin/..";
    my $out = `cd $top && PVS_MAKEFILE_REQUIRE=nosuch/thing.h:nosuchlib:libnosuch-dev $^X Makefile.PL 2>&1`;
    isnt($?, 0, 'Makefile.PL fails without a library it needs');
    is($out, "PVE::Storage::XS needs libnosuchlib (<nosuch/thing.h> and -lnosuchlib), which this system lacks: "
           . "install libnosuch-dev (Debian), or point CPATH and LIBRARY_PATH at it\n", 'and says which, and how to get it');
}

# the CPAN kit holds every source file of the core: a file missing from MANIFEST
# only shows as a link failure in `make disttest`
{
    my $top = "$FindBin::Bin/..";
    open(my $mf, '<', "$top/MANIFEST") or die "MANIFEST: $!";
    my %listed = map { chomp; s/\s.*//r => 1 } <$mf>;
    my @core = grep { m{\.[ch]$} } map { s{^\./}{}r } split /\n/, `cd $top && find core/src core/include -name '*.[ch]'`;
    ok(@core > 10, 'the core has sources');
    is_deeply([grep { !$listed{$_} } sort @core], [], 'MANIFEST lists every core source and header');
}

done_testing();
