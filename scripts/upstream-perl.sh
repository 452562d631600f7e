#!/bin/bash
# Run perl with upstream's PVE::Storage (pve-storage + pve-common checkouts)
# loadable: the modules upstream needs from a Proxmox node (pmxcfs, RADOS,
# D-Bus, HTTP ...) and never uses for storage.cfg are stubbed in a temporary
# directory.  For the golden files and the parse benchmark only.
#
#   scripts/upstream-perl.sh PVE_STORAGE_CHECKOUT PVE_COMMON_CHECKOUT PERL_ARGS...
set -euo pipefail
storage=${1:?usage: $0 PVE_STORAGE_CHECKOUT PVE_COMMON_CHECKOUT PERL_ARGS...}
common=${2:?usage: $0 PVE_STORAGE_CHECKOUT PVE_COMMON_CHECKOUT PERL_ARGS...}
shift 2
stubs=$(mktemp -d)
trap 'rm -rf "$stubs"' EXIT

stub() {   # stub MODULE [BODY]: a module whose functions all return 1
    local file="$stubs/first/${1//:://}.pm"
    mkdir -p "$(dirname "$file")"
    cat >"$file" <<PERL
package $1;
sub import { my \$c = caller(); no strict 'refs';
    for my \$n (@_[1 .. \$#_]) { next if \$n =~ /^[:\\-]/; *{"\${c}::\$n"} = sub { 1 } } }
our \$AUTOLOAD; sub AUTOLOAD { return 1 }
${2:-}
1;
PERL
}
for m in Encode::Locale URI::Escape Net::IP Date::Format Filesys::Df String::ShellQuote \
    PVE::Cluster XML::LibXML PVE::DataCenterConfig Clone Linux::Inotify2 PVE::RPCEnvironment \
    PVE::SSHInfo AnyEvent NetAddr::IP PVE::RADOS Net::DBus Net::DBus::Callback \
    Net::DBus::Reactor HTTP::Request LWP::UserAgent POSIX::strptime PVE::APIClient::LWP; do
    stub "$m"
done
stub PVE::INotify 'sub nodename { "pve1" }'
mkdir -p "$stubs/first/HTTP" "$stubs/first/Devel" "$stubs/first/File"
cat >"$stubs/first/HTTP/Status.pm" <<'PERL'
package HTTP::Status;
use Exporter 'import';
our @EXPORT_OK = qw(HTTP_BAD_REQUEST HTTP_UNAUTHORIZED HTTP_FORBIDDEN HTTP_NOT_FOUND
    HTTP_INTERNAL_SERVER_ERROR);
our %EXPORT_TAGS = (constants => \@EXPORT_OK);
sub HTTP_BAD_REQUEST {400} sub HTTP_UNAUTHORIZED {401} sub HTTP_FORBIDDEN {403}
sub HTTP_NOT_FOUND {404} sub HTTP_INTERNAL_SERVER_ERROR {500}
1;
PERL
echo 'package Devel::Cycle; sub import { no strict "refs"; *{caller() . "::find_cycle"} = sub {} } 1;' \
    >"$stubs/first/Devel/Cycle.pm"
echo 'package File::chdir; our $CWD; sub import { no strict "refs"; *{caller() . "::CWD"} = \$CWD } 1;' \
    >"$stubs/first/File/chdir.pm"

perl -I"$stubs/first" -I"$storage/src" -I"$common/src" "$@"
