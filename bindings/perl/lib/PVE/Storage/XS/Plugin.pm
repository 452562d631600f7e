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

# upstream's path gives ($path, $vmid, $vtype) in list context
sub path {
    my ($class, $scfg, $volname, $storeid, $snapname) = @_;
    my ($path) = PVE::Storage::XS::_plugin_call($class->_xs_type(), 'path', $scfg, $volname, $storeid, $snapname);
    return $path if !wantarray;
    my ($vtype, undef, $vmid) = $class->parse_volname($volname);
    return ($path, $vmid, $vtype);
}

sub filesystem_path {
    my ($class, $scfg, $volname, $snapname) = @_;
    return $class->path($scfg, $volname, undef, $snapname);
}

# Every other plugin method of the library's description (pvestorage_api.def),
# its arguments in upstream's order, reaches the C plugin of the class's type;
# those with nothing to return return what upstream's base methods do.
my %returns_true = (unmap_volume => 1);
for my $m (@{ PVE::Storage::XS::_api()->{methods} }) {
    my ($name, $result) = ($m->{name}, $m->{result});
    no strict 'refs';
    next if defined(&{"PVE::Storage::XS::Plugin::$name"});
    *{"PVE::Storage::XS::Plugin::$name"} = sub {
        my $class = shift;
        my @r = PVE::Storage::XS::_plugin_call($class->_xs_type(), $name, @_);
        return $returns_true{$name} ? 1 : () if $result eq 'none' || $result eq 'action';
        return $result eq 'volname' ? @r : $r[0];
    };
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
