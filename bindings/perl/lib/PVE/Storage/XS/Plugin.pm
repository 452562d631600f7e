package PVE::Storage::XS::Plugin;

use strict;
use warnings;

use PVE::Storage::XS ();

our $VERSION = $PVE::Storage::XS::VERSION;

# The storage type implemented in C; subclasses may override type() freely.
sub _xs_type { my ($class) = @_; die "$class implements no storage type\n" }
sub type { my ($class) = @_; return $class->_xs_type() }
sub api { my ($class) = @_; return PVE::Storage::XS::_plugin_api($class->_xs_type()) }
sub get_subdir { my ($class, $scfg, $vtype) = @_; return PVE::Storage::XS::_get_subdir($scfg, $vtype) }

sub parse_volname {
    my ($class, $volname) = @_;
    return PVE::Storage::XS::_plugin_parse_volname($class->_xs_type(), $volname);
}

sub path {
    my ($class, $scfg, $volname, $storeid, $snapname) = @_;
    my $path = PVE::Storage::XS::_plugin_path($class->_xs_type(), $storeid, $scfg, $volname, $snapname);
    return $path if !wantarray;
    my ($vtype, undef, $vmid) = $class->parse_volname($volname);
    return ($path, $vmid, $vtype);
}

sub filesystem_path {
    my ($class, $scfg, $volname, $snapname) = @_;
    return $class->path($scfg, $volname, undef, $snapname);
}

sub activate_storage {
    my ($class, $storeid, $scfg, $cache) = @_;
    PVE::Storage::XS::_plugin_activate_storage($class->_xs_type(), $storeid, $scfg, undef);
    return;
}

sub activate_volume {
    my ($class, $storeid, $scfg, $volname, $snapname, $cache, $hints) = @_;
    PVE::Storage::XS::_plugin_activate_volume($class->_xs_type(), $storeid, $scfg, $volname, $snapname, $hints);
    return;
}

sub deactivate_volume {
    my ($class, $storeid, $scfg, $volname, $snapname, $cache) = @_;
    PVE::Storage::XS::_plugin_deactivate_volume($class->_xs_type(), $storeid, $scfg, $volname, $snapname);
    return;
}

sub map_volume {
    my ($class, $storeid, $scfg, $volname, $snapname, $hints) = @_;
    return PVE::Storage::XS::_plugin_map_volume($class->_xs_type(), $storeid, $scfg, $volname, $snapname, $hints);
}

sub unmap_volume {
    my ($class, $storeid, $scfg, $volname, $snapname) = @_;
    PVE::Storage::XS::_plugin_unmap_volume($class->_xs_type(), $storeid, $scfg, $volname, $snapname);
    return 1;
}

# API 14: the C plugin's identifier of the storage instance; C plugins
# without one die as upstream's base method does
sub get_identity {
    my ($class, $scfg, $storeid) = @_;
    return PVE::Storage::XS::_plugin_get_identity($class->_xs_type(), $storeid, $scfg, undef);
}

1;

__END__

=head1 NAME

PVE::Storage::XS::Plugin - the base of the plugin classes implemented in C

=head1 DESCRIPTION

The class methods of a Proxmox storage plugin (C<type>, C<api>,
C<parse_volname>, C<path>, C<filesystem_path>, C<get_subdir>,
C<activate_storage>, C<activate_volume>, C<deactivate_volume>,
C<map_volume>, C<unmap_volume>, C<get_identity>), served by the C plugin of C<< $class->_xs_type >>.
See L<PVE::Storage::XS/PLUGIN CLASSES>.

=cut
