#!/bin/sh
# dplab stage 2, PID 1 on the host's root: mounts, NIC drivers, then the agent.
export PATH=/lab/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 PYTHONHASHSEED=0
mount -t tmpfs -o mode=0755 run /run
mount -t tmpfs -o mode=1777 tmp /tmp
mount -t tmpfs -o mode=0700 root /root
mount -t tmpfs -o mode=0755 home /home
mkdir -p /dev/pts /dev/shm /run/netns
mount -t devpts devpts /dev/pts
mount -t tmpfs shm /dev/shm
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
hostname dplab
ip link set lo up
modprobe -a virtio_net e1000e virtio_console virtio_rng 2>/dev/null
echo "dplab-init: stage2 $(cut -d' ' -f1 /proc/uptime)s"
# The lab's links, wired while the agent starts (e1000e's carrier takes ~3 s); the host waits for the .rc.
[ -f /lab/links.sh ] && { sh /lab/links.sh > /run/dplab-links.log 2>&1; echo $? > /run/dplab-links.rc; } &
python3 /lab/agent.py
echo "dplab-init: agent exited rc=$?"
echo o > /proc/sysrq-trigger
sleep 10
