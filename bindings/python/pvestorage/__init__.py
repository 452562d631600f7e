"""Proxmox VE storage activation and mapping with hints (storage API 15), in C.

The same operations as Perl's PVE::Storage, with native dicts: verify_hints,
activate_volumes, map_volume, ... and plugin(type) for the plugins' methods.
Errors raise pvestorage.Error subclasses; warnings use StorageWarning.

The functions live in the extension module pvestorage._pvestorage; this
package re-exports them, and carries the type stubs (PEP 561).
"""

from . import _pvestorage
from ._pvestorage import *  # noqa: F401,F403  (the public names, listed below)
from ._pvestorage import __version__, _api  # noqa: F401  (_api: the library's description, for tools)

__all__ = sorted(name for name in vars(_pvestorage) if not name.startswith("_"))
