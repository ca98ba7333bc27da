#!/bin/busybox sh
# dplab stage 1 (initramfs /init, busybox only): load the boot modules, wire the lab's links, mount the
# host root read-only over 9p, build a root of binds + overlays + tmpfs, switch into the agent (PID 1).
# Everything here runs from RAM: under TCG the first exec of a host binary over 9p costs 0.1-0.3 s.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
fail() { echo "dplab-init: FATAL: $*"; echo o > /proc/sysrq-trigger; sleep 5; exit 1; }
echo "dplab-init: stage1 $(cut -d' ' -f1 /proc/uptime)s"
for m in $(cat /modules/order 2>/dev/null); do insmod "/modules/$m" 2>/dev/null; done
mkdir -p /host /newroot
mount -t tmpfs -o mode=0755 newroot /newroot
cd /newroot
mkdir -p lab proc sys dev run tmp root home
mount -t tmpfs -o mode=0755 run run
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 labrun lab || fail "cannot mount the run directory (9p tag labrun)"
# The lab's links first: e1000e's carrier comes ~2.2 s after `up` (the driver's watchdog period), so it
# comes up while the rest boots. The host waits for carrier and reads run/dplab-links.{rc,log}.
# The kernel command line names this guest's wiring script (dplab.links=links-0-1.sh: the links it has).
wiring=; for w in $(cat /proc/cmdline); do case "$w" in dplab.links=*) wiring=${w#dplab.links=} ;; esac; done
case "$wiring" in
  "") ;;
  *[!a-z0-9.-]*) echo "dplab-init: dplab.links=$wiring: not a script name" > run/dplab-links.log; echo 2 > run/dplab-links.rc ;;
  *) NETNS=/newroot/run/netns sh "lab/$wiring" > run/dplab-links.log 2>&1; echo $? > run/dplab-links.rc ;;
esac
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /host || fail "cannot mount the host root (9p tag hostroot)"
for e in /host/*; do
  n=${e#/host/}
  case "$n" in
    proc|sys|dev|run|tmp|root|home|lab|lost+found|boot|media|mnt) mkdir -p "$n" ;;
    *) if [ -L "$e" ]; then ln -s "$(readlink "$e")" "$n"
       elif [ -d "$e" ]; then mkdir -p "$n"; mount --bind "$e" "$n"; fi ;;
  esac
done
# /etc, /var, /usr: writable throwaway overlays over the host's (bind read-only if overlayfs is missing).
for d in etc var usr; do
  [ -d /host/$d ] || continue
  umount "$d" 2>/dev/null
  mkdir -p "/newroot/.ovl/$d/u" "/newroot/.ovl/$d/w"
  mount -t overlay -o "lowerdir=/host/$d,upperdir=/newroot/.ovl/$d/u,workdir=/newroot/.ovl/$d/w" "ovl-$d" "$d" || mount --bind /host/$d "$d"
done
# The host shares only programs, libraries and /etc (lab/vm/hide.py): /var is the guest's own.
if [ ! -d /host/var ]; then
  mkdir -p var/lib var/log var/cache var/tmp; chmod 1777 var/tmp; ln -s /run var/run; ln -s /run/lock var/lock
fi
# The guest kernel's own modules (absent for a kernel with everything built in).
rel=$(uname -r)
if [ -d /sys/bus/virtio/drivers/9pnet_virtio ] && grep -qx modules /sys/bus/virtio/drivers/9pnet_virtio/*/mount_tag 2>/dev/null; then
  mount -t tmpfs -o mode=0755 modules usr/lib/modules 2>/dev/null || mkdir -p usr/lib/modules
  mkdir -p "usr/lib/modules/$rel"
  mount -t 9p -o trans=virtio,version=9p2000.L,ro modules "usr/lib/modules/$rel" || fail "cannot mount the kernel modules (9p tag modules)"
fi
for d in proc sys dev; do mount --move /$d $d; done
# Every other mount stage 2 needs.
mount -t tmpfs -o mode=1777 tmp tmp
mount -t tmpfs -o mode=0700 root root
mount -t tmpfs -o mode=0755 home home
mkdir -p dev/pts dev/shm run/netns
# What udev makes on any system (devtmpfs does not): without them `>> /dev/stdout` writes a regular file
ln -sf /proc/self/fd dev/fd; ln -sf /proc/self/fd/0 dev/stdin; ln -sf /proc/self/fd/1 dev/stdout; ln -sf /proc/self/fd/2 dev/stderr
mount -t devpts devpts dev/pts
mount -t tmpfs shm dev/shm
mount -t debugfs debugfs sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs sys/kernel/tracing 2>/dev/null
mount -t bpf bpf sys/fs/bpf 2>/dev/null
mount -t configfs configfs sys/kernel/config 2>/dev/null  # netconsole's targets (kselftests), where built
echo dplab > proc/sys/kernel/hostname
ip link set lo up
[ -x /newroot/usr/bin/python3 ] || fail "no python3 on the host root (apt-get install python3)"
echo "dplab-init: agent $(cut -d' ' -f1 /proc/uptime)s"
# Stage 2 is the agent itself, PID 1 on the host's root (a shell first would cost its first exec over 9p).
export PATH=/lab/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 PYTHONHASHSEED=0
exec switch_root /newroot /usr/bin/python3 -S /lab/agent.py
