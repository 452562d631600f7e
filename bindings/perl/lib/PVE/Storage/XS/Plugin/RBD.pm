package PVE::Storage::XS::Plugin::RBD;

use strict;
use warnings;

use parent 'PVE::Storage::XS::Plugin';

our $VERSION = $PVE::Storage::XS::VERSION;

sub _xs_type { return 'rbd' }

1;

__END__

=head1 NAME

PVE::Storage::XS::Plugin::RBD - the rbd storage plugin, in C, as a Proxmox plugin class

=head1 SYNOPSIS

    package My::Storage::Plugin;
    use parent 'PVE::Storage::XS::Plugin::RBD';

=head1 DESCRIPTION

See L<PVE::Storage::XS/PLUGIN CLASSES>.

=cut
