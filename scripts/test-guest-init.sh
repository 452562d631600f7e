#!/bin/bash
# The test guest's second stage, PID 1 on the host's own userspace (see
# scripts/test-guest.sh): the guest kernel's modules, loopback-only
# networking, udev with the host's rules (Ceph's among them) and ours, the
# rbd module, then the command loop on the share.
share=$1
. "$share/boot.env"
exec >"$share/init.log" 2>&1
set -x
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
mkdir -p /usr/lib/modules && mount --bind "$MODULES" /usr/lib/modules
echo 1 >/proc/sys/kernel/sysrq
# the guest's own packages, into the overlay (the host's directory links kept)
[ -d "${PKGROOT:-}" ] && tar -C "$PKGROOT" -cf - . | tar -C / -xf - --keep-directory-symlink

# only the host's 127.0.0.1, through QEMU's user networking
modprobe virtio_net
for _ in $(seq 50); do [ -e /sys/class/net/eth0 ] && break; sleep 0.1; done
ip link set eth0 up
ip addr add 10.0.2.15/32 dev eth0
ip route add 10.0.2.2 dev eth0
ip route add 127.0.0.1 via 10.0.2.2 dev eth0
sysctl -qw net.ipv4.conf.all.route_localnet=1 net.ipv4.conf.eth0.route_localnet=1

# udev with the host's rules and the ones asked for
mkdir -p /etc/udev/rules.d /run/udev
IFS=: read -r -a extra <<<"$RULES"
for r in "${extra[@]}"; do [ -n "$r" ] && cp "$r" /etc/udev/rules.d/; done
/usr/lib/systemd/systemd-udevd --daemon
udevadm trigger --action=add >/dev/null 2>&1
udevadm settle -t 30
modprobe rbd
modprobe -a loop dm_mod dm_thin_pool
udevadm settle -t 10
set +x
touch /run/pvestorage-test-guest
uname -r >"$share/.ready" && mv "$share/.ready" "$share/ready"

# the command loop: cmd-N.sh -> out-N, err-N, rc-N (each in its own session)
while [ ! -e "$share/halt" ]; do
  for f in "$share"/cmd-*.sh; do
    [ -e "$f" ] || continue
    n=${f##*/cmd-}; n=${n%.sh}
    mv "$f" "$share/run-$n.sh" || continue
    ( setsid bash "$share/run-$n.sh" >"$share/out-$n" 2>"$share/err-$n" </dev/null
      echo $? >"$share/.rc-$n"; mv "$share/.rc-$n" "$share/rc-$n" ) &
  done
  sleep 0.05
done
sync
echo o >/proc/sysrq-trigger
sleep 10
