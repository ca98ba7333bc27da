#!/bin/sh
# dplab stage 2, PID 1 on the host's root (stage 1 did the mounts and wired the links): then the agent.
export PATH=/lab/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 PYTHONHASHSEED=0
# A modular kernel's other drivers (stage 1 loaded what 9p and the NICs need); a kernel with all built in has none.
[ -f "/lib/modules/$(uname -r)/modules.dep" ] && modprobe -a virtio_console virtio_rng 2>/dev/null
echo "dplab-init: stage2 $(cut -d' ' -f1 /proc/uptime)s"
python3 -S /lab/agent.py
echo "dplab-init: agent exited rc=$?"
echo o > /proc/sysrq-trigger
sleep 10
