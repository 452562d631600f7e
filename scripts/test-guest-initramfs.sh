#!/bin/busybox sh
# The test guest's first stage (the initramfs' /init, busybox): the 9p and
# overlay modules, the host's / read-only with a tmpfs overlay on top, the
# command channel, then the second stage (scripts/test-guest-init.sh) as
# PID 1 of that root.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /modules.list); do insmod "/mods/$m" || echo "initramfs: insmod $m failed"; done
share=$(tr ' ' '\n' </proc/cmdline | sed -n 's/^pvs\.share=//p')
opts=trans=virtio,version=9p2000.L,msize=524288
mount -t 9p -o "$opts,ro,cache=loose" hostroot /host || { echo "initramfs: no host root"; poweroff -f; }
mount -t tmpfs -o size=60% tmpfs /rw
mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work /newroot ||
  { echo "initramfs: no overlay"; poweroff -f; }
mkdir -p "/newroot$share"
mount -t 9p -o "$opts" share "/newroot$share" || { echo "initramfs: no share"; poweroff -f; }
. "/newroot$share/boot.env"
umount /proc /sys
mount --move /dev /newroot/dev
exec switch_root /newroot /bin/bash "$INIT" "$share"
