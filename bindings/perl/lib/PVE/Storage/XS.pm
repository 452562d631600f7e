package PVE::Storage::XS;

use strict;
use warnings;

our $VERSION;
BEGIN {
    $VERSION = '0.1.0';
    require XSLoader;
    XSLoader::load('PVE::Storage::XS', $VERSION);
}

use Exporter 'import';
use Scalar::Util ();
use overload ();
our %EXPORT_TAGS = (
    hints => [qw(APIVER APIAGE $hints_properties $hints_format hints_json_schema is_hint_supported
                 verify_hints storage_hints generate_storage_hints)],
    config => [qw(parse_volume_id read_config parse_config)],
    volumes => [qw(activate_volumes deactivate_volumes map_volume unmap_volume path activate_storage
                   deactivate_storage path_to_volume_id activate_volumes_report map_volume_report activate_vm_volumes audit
                   get_identity storage_status list_volumes)],
    plugins => [qw(register_plugin dry_run)],
    settings => [qw(configure settings)],
);
# what may be exported: the Perl column of the library's description
# (pvestorage_api.h), the tags above only group it
our @EXPORT_OK = grep { !/^-|::/ } map { $_->{perl} } map { @{ _api()->{$_} } } qw(calls values);
$EXPORT_TAGS{all} = [@EXPORT_OK];

use constant APIVER => _APIVER();
use constant APIAGE => _APIAGE();

# Shaped like PVE::Storage's: $hints_format->{properties} is $hints_properties.
our $hints_properties = _hints_properties();
our $hints_format = _hints_format();
$hints_format->{properties} = $hints_properties;

# qemu-server's generate_storage_hints($conf, $plugin_may_deactivate_volume):
# the hints of a VM, from its configuration
sub generate_storage_hints {
    my ($conf, $plugin_may_deactivate_volume) = @_;
    return storage_hints($conf->{ostype}, $plugin_may_deactivate_volume);
}

# what the core said during a call: warnings through warn, informational
# lines (references) through print, as upstream prints them
sub _emit {
    for my $m (@_) {
        if (ref($m)) { print $$m } else { warn $m }
    }
    return;
}

# For the binding, which runs no Perl code outside an eval while the core is
# under way (a die there would unwind through the core's C frames).
#
# _try($invocant, $method, @args): $invocant->$method(@args) -- or, with an
# undefined invocant, the function $method -- under eval.  (1, its results)
# when it returned, (0, what it died with) when it died: the eval itself
# says which, never the truth of $@ (an exception object may overload bool
# to be false).
sub _try {
    my ($invocant, $method) = (shift, shift);
    my @res;
    return (1, @res) if eval { @res = defined($invocant) ? $invocant->$method(@_) : (\&$method)->(@_); 1 };
    return (0, $@);
}

# _text($value) or _text($hash, $key): a value the core needs as text, made
# under eval.  (1, TEXT), (1, undef) for undef; (2, WHAT) for a reference
# that is no text (a HASH reference, an object without a "" overload),
# which is not stringified; (0, ERROR, WHAT) when making it text died (an
# overloaded "", a tied FETCH).
sub _text {
    my ($what, @res);
    return @res if eval {
        my $v = @_ > 1 ? $_[0]{$_[1]} : $_[0];
        $what = _what($v);
        my $text = !ref($v) || (Scalar::Util::blessed($v) && overload::Method($v, '""'));
        @res = !defined($v) ? (1, undef) : $text ? (1, "$v") : (2, $what);
        1;
    };
    return (0, $@, $what // 'a value');
}

sub _what {
    my ($v) = @_;
    my $class = Scalar::Util::blessed($v);
    return "an object of class $class" if defined($class);
    return 'a value' if !ref($v);
    return (ref($v) =~ /^[AEIOU]/ ? 'an ' : 'a ') . ref($v) . ' reference';
}

# ($path, $owner, $vtype) in list context, as PVE::Storage::path
sub path {
    my ($cfg, $volid, $snapname) = @_;
    my @res = _path_info($cfg, $volid, $snapname);
    return wantarray ? @res : $res[0];
}

# What the calls die with: the message as a string, and more when asked.
package PVE::Storage::XS::Error {
    use overload '""' => sub { $_[0]{message} }, 'bool' => sub { 1 }, fallback => 1;
    sub message { $_[0]{message} }
    sub code { $_[0]{code} }
    sub exit_status { $_[0]{exit_status} }
    sub stderr { $_[0]{stderr} }
    sub volumes { $_[0]{volumes} }   # the records, from the *_report calls
}

# the plugin classes, each in its file (use parent 'PVE::Storage::XS::Plugin::Dir' works)
require PVE::Storage::XS::Plugin::Dir;
require PVE::Storage::XS::Plugin::RBD;

1;

__END__

=head1 NAME

PVE::Storage::XS - Proxmox VE storage activation and mapping with hints, in C

=head1 SYNOPSIS

    use PVE::Storage::XS qw(verify_hints is_hint_supported activate_volumes map_volume);

    my $cfg = PVE::Storage::XS::read_config('/etc/pve/storage.cfg');
    my $hints = { 'guest-is-windows' => 1, 'plugin-may-deactivate-volume' => 1 };

    verify_hints($hints);                          # dies with Proxmox's message
    activate_volumes($cfg, ['local:100/vm-100-disk-0.raw'], undef, $hints);
    my $path = map_volume($cfg, 'local:100/vm-100-disk-0.raw', undef, $hints);

    # a plugin method, called the way PVE::Storage calls plugins
    my $plugin = 'PVE::Storage::XS::Plugin::Dir';
    $plugin->activate_volume($storeid, $scfg, $volname, $snapname, $cache, $hints);

=head1 DESCRIPTION

The Proxmox VE storage layer (C<PVE::Storage>, storage API version 15) with its
rules implemented once, in the C library C<libpvestorage>. This module converts
Perl values to the core's values and back and turns the core's errors into
C<die> and its warnings into C<warn>; nothing else. The names and argument
orders are those of C<PVE::Storage> and C<PVE::Storage::Plugin>, so Perl code
can switch one call at a time and see the same behaviour and messages.

Errors die with the exact message of Proxmox VE, ending in C<"\n"> (so Perl
adds no C<at ... line ...>). Warnings go through Perl's C<warn>, so
C<$SIG{__WARN__}> and C<local $SIG{__WARN__}> see them. The hashes, arrays and
values you pass are never modified.

=head1 ERRORS

Every call dies with a C<PVE::Storage::XS::Error> object. It stringifies to
the message exactly, ending in a newline, as Proxmox's own die messages do,
so C<$@ =~ /.../>, C<$@ eq "..."> and C<print $@> work as with a string.
Callers who want more ask it: C<< $@->code >> (C<EINVAL>, C<ENOENT>,
C<EHINTS>, C<ECOMMAND>, C<ETIMEDOUT>, ...), C<< $@->message >>,
C<< $@->exit_status >> and C<< $@->stderr >> (for a command that failed:
its exit status and everything it wrote on stderr). A Perl plugin's die
comes out as the plugin's own value.

=head1 EXPORTS

Nothing by default. The tags: C<:hints> (the hint functions and constants,
C<storage_hints>, C<generate_storage_hints>), C<:config> (C<parse_volume_id>,
C<read_config>, C<parse_config>), C<:volumes> (the storage-level calls and
C<path_to_volume_id>), C<:plugins> (C<register_plugin>), C<:settings>
(C<configure>, C<settings>), and C<:all>.

The plugin classes C<PVE::Storage::XS::Plugin>, C<PVE::Storage::XS::Plugin::Dir>
and C<PVE::Storage::XS::Plugin::RBD> each have their own file, so
C<use parent 'PVE::Storage::XS::Plugin::Dir'> loads what it needs.

=head1 CONSTANTS AND VARIABLES

=over 4

=item APIVER, APIAGE

The storage plugin API version (15) and age (6): plugins implementing API
versions C<APIVER - APIAGE> to C<APIVER> are accepted.

=item $hints_properties

C<< { 'guest-is-windows' => { type => 'boolean', optional => 1, description => ... }, ... } >>,
as C<$PVE::Storage::hints_properties>.

=item $hints_format

C<< { type => 'object', additionalProperties => 0, properties => $hints_properties } >>.

=item hints_json_schema()

The hint format as a JSON Schema (draft 2020-12) document, as JSON text.

=back

=head1 FUNCTIONS

=over 4

=item is_hint_supported($name)

True iff C<$name> is a defined hint (exact, case-sensitive). Upper layers ask
before they send a hint, so newer hints need no API bump.

=item verify_hints($hints, $noerr)

Returns C<undef> for C<undef> hints, C<$hints> itself (the very same
reference) when valid. Invalid hints die with

    internal error - hints are not valid: 400 Parameter verification failed.
    guest-is-windows: type check ('boolean') failed - got 'yes'

(one line per offending key, sorted by key), or return C<undef> with
C<$noerr>. Booleans are judged as Proxmox's JSON schema does: C<JSON::PP>
booleans (and the boolean objects of other JSON modules), C<0>, C<1>, C<"0">,
C<"1">, and numbers that print as C<0> or C<1>. A structure with a reference
cycle is rejected with C<_root: data structure contains recursive cycles>.

=item parse_volume_id($volid, $noerr)

C<($storeid, $volname)> in list context, C<$storeid> in scalar context; dies
with C<unable to parse volume ID '$volid'> unless C<$noerr>.

=item read_config($path), parse_config($text, $filename)

A C<storage.cfg>, parsed into the shape of C<PVE::Storage::config()>:
C<< { ids => { STOREID => { type => ..., ... } }, order => { STOREID => N } } >>;
C<content> and C<nodes> become sets, booleans and integers numbers. Every
upstream storage type is known (dir, lvm, lvmthin, zfspool, zfs, nfs, cifs,
cephfs, rbd, pbs, iscsi, iscsidirect, btrfs, esxi), and registered plugins add
theirs. Values are checked with upstream's rules and messages; a bad value is
warned and dropped, a section that cannot be kept is C<undef> in C<ids> (as
upstream), and C<local> is upstream's dir storage at F</var/lib/vz> unless the
file defines it so. An unreadable file dies.

=item activate_volumes($cfg, $vollist, $snapname, $hints)

Verifies the hints (an invalid hint activates nothing), activates each storage
involved once, then each volume through its plugin with the hints, in list
order, stopping at the first failure. An empty list does nothing. A volume
whose storage type has no plugin here dies with
C<storage 'ID' has type 'TYPE', for which no plugin is registered (a plugin can be registered for it)>
- unless C<PVE::Storage> is loaded (see L</PLUGINS WRITTEN IN PERL>).

=item activate_volumes_report($cfg, $vollist, $snapname, $hints, { dry_run => 1 })

=item map_volume_report($cfg, $volid, $snapname, $hints, { dry_run => 1 })

The same calls, returning what was done to each volume: an array of hashes,
one per volume reached in the list's order, with C<volid>, C<path>,
C<action> (C<activated>, C<mapped>, C<already-mapped>, C<remapped>,
C<remap-skipped-unsafe>, C<remap-failed>, C<remap-skipped-deadline>, C<options-unknown>,
C<not-implemented>, C<skipped-dry-run>, C<failed>), the volume's
C<warnings>, and for kernel RBD C<options_before>, C<options_after> and
C<commands> (each rbd argv). With C<dry_run> every read is done and nothing
changes: the hashes are the plan, with the commands the real call would run.
A failure dies with the error object, whose C<volumes> method returns the
records (the failing volume's C<action> is C<failed>, with its C<error>).

=item activate_vm_volumes($cfg, $vmid, $may_deactivate, { dry_run => 1 })

The VM-start flow in one call: the guest's volumes from
F</etc/pve/qemu-server/VMID.conf> (under the C<root> setting) as qemu-server's
C<vm_start> runs with it: its current section with the C<[PENDING]> changes
applied unless the guest would resume (the file itself is not changed), in
qemu-server's order, its configuration warnings given through C<warn>; each
volume checked as qemu-server checks it (an
error names the disk key), and the hints C<generate_storage_hints> computes
(C<guest-is-windows> from C<ostype>; C<plugin-may-deactivate-volume> from
C<$may_deactivate>, 1 at VM start), activated as C<activate_volumes_report>
does. Returns the records.

=item audit($cfg)

Every guest under F</etc/pve/qemu-server> (the C<root> setting) against its
kernel RBD mappings, reading only: a hash with C<volumes> (one record per
krbd volume of a guest: C<vmid>, C<key>, C<volid>, C<windows>, C<running>,
C<device>, C<options>, C<in_order>, C<remedy>, and C<command>, the argv that
remaps it, only when the guest is not running), C<guest_errors> and
C<needs_action>. A Windows guest's volume mapped without C<rxbounce> is not
in order.

=item deactivate_volumes($cfg, $vollist, $snapname)

Goes on past a failing volume, warns each error, then dies with
C<volume deactivation failed: VOLID ...>.

=item map_volume($cfg, $volid, $snapname, $hints)

Verifies the hints and maps the volume; returns its path.

=item unmap_volume($cfg, $volid, $snapname), path($cfg, $volid, $snapname), activate_storage($cfg, $storeid), deactivate_storage($cfg, $storeid)

As in C<PVE::Storage> (C<path> returns the path).

=item get_identity($cfg, $storeid)

The identifier of the storage instance behind C<$storeid> (storage API 14),
as its plugin's C<get_identity($scfg, $storeid)> tells it, or undef. The
storage must exist, be enabled and be available on this node; a plugin
without C<get_identity> dies C<get_identity not implemented for this plugin>
(code C<EPLUGIN>), as upstream's base method does.

=item storage_status($cfg)

Every storage of C<$cfg> as C<pvesm status> shows it: an array of hashes
C<{ storage, type, enabled, active, content, shared }>, with C<total>,
C<used> and C<avail> (bytes, as upstream's C<status> computes them) where the
storage's plugin tells them (lvm, lvmthin ...) and C<reason> when it is not
active. Reads only: unlike upstream's C<storage_info>, nothing is activated
first (an inactive thin pool shows inactive).

=item list_volumes($cfg, $storeid, $vmid)

The volumes on one storage, as C<pvesm list> lists them: an array of hashes
C<{ volid, content, format, size, vmid, ... }> sorted by volid, only guest
C<$vmid>'s when it is given. Reads only.

=item path_to_volume_id($cfg, $path)

As C<PVE::Storage::path_to_volume_id>: C<($vtype, $volid)> of a path under
one of the storages of C<$cfg>, or C<('')> when none holds it.

=item configure(%settings), settings()

Set the host settings of this interpreter's context: C<root> (prefix of the
host paths read or written: F</sys>, F</dev>, F</proc>, F</etc/pve>, F</run>), C<rbd_command>,
C<ceph_timeout>, C<kernel_version>. The environment (C<PVESTORAGE_ROOT>, ...)
gives the initial values. An unknown setting or a bad value dies and changes
nothing. C<settings()> returns the current values.

C<ceph_timeout> is the deadline of one call: every cluster step and every
C<rbd> run of the call counts against it, and running out dies with the
timeout error. A call works with the settings in force when it began, so
C<configure> may be called at any time, a C<$SIG{__WARN__}> handler included.

Arguments are read without side effects on them: a hash's C<each> iterator
stays where the caller left it, a value that dies while it is read (a tied
FETCH) leaks nothing, and a structure that shares sub-structures is read once
per distinct hash or array. Only the sections of the storages that the volume
IDs name are read from C<$cfg>, so a call costs the same with a large
configuration.

=item storage_hints($ostype, $may_deactivate), generate_storage_hints($conf, $plugin_may_deactivate_volume)

The hints an upper layer passes for a VM, by qemu-server's rule:
C<guest-is-windows> is 1 when C<$ostype> (C<< $conf->{ostype} >>) names Windows
(C<wxp>, C<w2k>, C<w2k3>, C<w2k8>, C<wvista>, C<winN>), else 0;
C<plugin-may-deactivate-volume> is 1 at VM start, else 0.
C<generate_storage_hints> takes the VM's configuration hash, as qemu-server's
does.

=item register_plugin($class)

Registers a Perl class (a class name, as upstream's plugins are; a
reference dies C<plugin class must be a class name, not a reference>) that
implements Proxmox's storage plugin interface:
C<api>, C<type>, and optionally C<plugindata>, C<properties>, C<options> and
any of C<parse_volname>, C<path>, C<activate_storage>, C<activate_volume>,
C<deactivate_volume>, C<map_volume>, C<unmap_volume>, C<get_identity>. See
L</PLUGINS WRITTEN IN PERL>.

=item dry_run()

For a Perl plugin's method: true when the call that runs it is a dry run
(C<< { dry_run => 1 } >>). Only a class that declares the capability is
called in one: C<sub pvestorage_capabilities { ['dry_run'] }> says its
methods then read and change nothing; any other class's methods are not
called in a dry run, and the report says C<skipped-dry-run>. An unknown
capability dies at registration.

=back

=head1 PLUGINS WRITTEN IN PERL

    package PVE::Storage::Custom::MyPlugin;
    use base qw(PVE::Storage::Plugin);     # or no base class at all
    sub api { 15 }
    sub type { 'mystorage' }
    sub plugindata { { content => [ { images => 1, rootdir => 1 }, { images => 1 } ] } }
    sub properties { { 'my-server' => { type => 'string', format => 'pve-storage-server' } } }
    sub options { { 'my-server' => { fixed => 1 }, content => { optional => 1 } } }
    sub activate_volume {
        my ($class, $storeid, $scfg, $volname, $snapname, $cache, $hints) = @_;
        ...   # $hints->{'guest-is-windows'}
    }

    PVE::Storage::XS::register_plugin('PVE::Storage::Custom::MyPlugin');

=over 4

=item *

The API version is checked as upstream checks a custom plugin: a newer one
dies C<implements an API version newer than current (16 E<gt> 15)>, one older
than 9 dies C<API version too old, please update the plugin (8 E<lt> 9)>, 9
to 14 load with the warning C<Plugin "CLASS" is implementing an older storage
API, an upgrade is recommended>. A class without C<api> dies
C<does not provide an api() method>.

=item *

Its C<properties> and C<options> extend the configuration parser, with the
rules of upstream's section config: a property is declared once
(C<duplicate property 'NAME'>), an option names a declared property
(C<undefined property 'NAME'>).

=item *

Storage-level calls dispatch its type's volumes to it in the caller's list
order, between the C plugins' volumes, with upstream's arguments: the
caller's own section hash and hints, and one C<$cache> hash for the whole
call (C<activate_storage> runs first for each storage). A C<die> in it is the
call's error: the call dies with the very value the plugin died with (an
exception object stays one). Its C<warn>s reach C<$SIG{__WARN__}>, after
any warning of the library that came before them.

=item *

It may call back into C<PVE::Storage::XS>: no lock is held while Perl code
runs.

=item *

Registering a class for C<dir> or C<rbd> replaces the C plugin, for callers
that want the Perl behaviour back; a type is registered once otherwise
(C<duplicate storage plugin type 'TYPE'>).

=item *

When C<PVE::Storage> is loaded, a type that no plugin here implements (lvm,
lvmthin, zfspool, nfs, ..., or a custom plugin's) is served by the class
C<< PVE::Storage::Plugin->lookup(TYPE) >> returns, on first use. So
C<activate_volumes($cfg, $vollist, $snapname, $hints)> works for every
storage of a node: C where a C plugin exists, Perl otherwise. Those classes
are upstream's and are not checked again; the type's configuration keeps
this library's description.

=back

=head1 THREADS

Each interpreter (each Perl thread) has its own context: its settings, its
registered classes, its warnings. A new thread starts where its parent was
when it was created: with the parent's C<configure> settings, and with the
classes the parent had registered (C<register_plugin>, and those
C<PVE::Storage> served a type with), registered again in the thread for
the thread's own copy of each package. From then on the two go their own
ways: a C<configure> or C<register_plugin> in one is not seen in the other.
Threads may make calls at the same time. A thread's end frees only its own
state.

=head1 PLUGIN CLASSES

C<PVE::Storage::XS::Plugin::Dir> and C<PVE::Storage::XS::Plugin::RBD> have the class methods
of a Proxmox storage plugin: C<type>, C<api>, C<parse_volname($volname)>,
C<path($scfg, $volname, $storeid, $snapname)>,
C<filesystem_path($scfg, $volname, $snapname)>,
C<activate_storage($storeid, $scfg, $cache)>,
C<activate_volume($storeid, $scfg, $volname, $snapname, $cache, $hints)>,
C<deactivate_volume($storeid, $scfg, $volname, $snapname, $cache)>,
C<map_volume($storeid, $scfg, $volname, $snapname, $hints)> (returns the path),
C<unmap_volume($storeid, $scfg, $volname, $snapname)>. C<$cache> is accepted
and ignored: the core keeps its own.

=head2 RBD and hints

With C<krbd 1>, C<< PVE::Storage::XS::Plugin::RBD->map_volume >> (and
C<activate_volume>) maps the image through the C<rbd> command. With the hint
C<guest-is-windows> true the image is mapped with C<--options rxbounce>; a
volume already mapped without C<rxbounce> is unmapped first only when
C<plugin-may-deactivate-volume> is true too, and otherwise warned about:

    not unmapping volume vm-100-disk-0 to apply rxbounce since it is not safe

Image features are brought in line with the running kernel through librbd
before mapping (one cached cluster connection per storage). Without C<krbd>,
C<path> returns QEMU's C<rbd:POOL/IMAGE:conf=...> string and activation does
nothing.

=head1 ADOPTION: A PERL PLUGIN DELEGATING ONE METHOD

A Perl storage plugin keeps all its methods and hands over just the ones it
wants to the C core:

    package My::Storage::DirPlugin;
    use parent -norequire, 'PVE::Storage::Plugin';
    use PVE::Storage::XS;

    sub api { return 13 }
    sub type { return 'dir' }

    # everything else stays Perl; these two go to C
    sub activate_volume {
        my ($class, $storeid, $scfg, $volname, $snapname, $cache, $hints) = @_;
        return PVE::Storage::XS::Plugin::Dir->activate_volume(
            $storeid, $scfg, $volname, $snapname, $cache, $hints);
    }

    sub map_volume {
        my ($class, $storeid, $scfg, $volname, $snapname, $hints) = @_;
        return PVE::Storage::XS::Plugin::Dir->map_volume(
            $storeid, $scfg, $volname, $snapname, $hints);
    }

An upper layer switches a single call the same way:
C<PVE::Storage::activate_volumes(...)> becomes
C<PVE::Storage::XS::activate_volumes(...)> with the same arguments.

Subclassing a C<PVE::Storage::XS::Plugin::*> class works too: the C type stays
the parent's even when the subclass overrides C<type>.

=head1 SEE ALSO

L<pvestorage(1)>, the C header F<pvestorage.h>, the Python module C<pvestorage>.

=cut
