#!/usr/bin/python3
"""activate_vm.py - hand a VM's volumes to the storage layer with the hints
qemu-server would pass at VM start.

    python3 activate_vm.py STORAGE_CFG OSTYPE VOLID...
"""
import sys

import pvestorage


def main(argv):
    if len(argv) < 4:
        print(f"usage: {argv[0]} STORAGE_CFG OSTYPE VOLID...", file=sys.stderr)
        return 2
    cfgfile, ostype, volids = argv[1], argv[2], argv[3:]
    cfg = pvestorage.read_config(cfgfile)
    hints = pvestorage.storage_hints(ostype, may_deactivate=True)   # the VM is starting
    try:
        pvestorage.activate_volumes(cfg, volids, hints=hints)
    except pvestorage.Error as e:
        print(e, file=sys.stderr)
        return 1
    for volid in volids:
        print(volid, pvestorage.path(cfg, volid))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
