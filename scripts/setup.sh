#!/bin/sh
# Install what dplab needs on Debian 12 (as root): apt packages and a venv with the package.
# Idempotent and quiet when everything is already there.
set -eu
cd "$(dirname "$0")/.."
PKGS="qemu-system-x86 qemu-utils busybox-static iproute2 iperf3 ethtool linux-perf kmod cpio procps
      ccache bc bison flex libelf-dev libssl-dev make gcc libc6-dev patch xz-utils rsync dwarves
      iputils-ping linux-source wireguard-tools libxdp-dev libbpf-dev xdp-tools nftables python3-venv git chromium
      openssh-server openssh-client iptables udev kexec-tools clang socat python3-yaml libnuma-dev libcap-dev
      libmnl-dev"  # sshd: only the tests start one, in a netns of their own; iptables, socat, python3-yaml (YNL),
# libnuma-dev, libcap-dev, libmnl-dev (reuseport_bpf_numa, epoll_busy_poll, ncdevmem): kselftests
# clang: the BPF objects net kselftests load (../bpf/xdp_dummy.bpf.o), built by lab selftest
# kexec-tools: run inside the suite's stand-in host (a guest); never loads a kernel on this machine (preseeded off)
# udev: virtme-ng's guest runs the host's udevd to name its script ports (/dev/virtio-ports/virtme.*); never started here
# The lab's own apt sources, pinned (scripts/apt): Debian's 6.12 line and source packages (QEMU's plugin API).
apt_changed=""
if ! cmp -s scripts/apt/dplab.sources /etc/apt/sources.list.d/dplab.sources || ! cmp -s scripts/apt/dplab.pref /etc/apt/preferences.d/dplab; then
  [ "$(id -u)" = 0 ] || { echo "setup: need root to add scripts/apt/dplab.sources" >&2; exit 1; }
  cp scripts/apt/dplab.sources /etc/apt/sources.list.d/dplab.sources
  cp scripts/apt/dplab.pref /etc/apt/preferences.d/dplab
  apt_changed=1
fi
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "setup: apt-get install$missing"
  [ "$(id -u)" = 0 ] || { echo "setup: need root to install:$missing" >&2; exit 1; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt_changed=""
  # --no-install-recommends: wireguard-tools would otherwise pull a whole kernel image and initramfs-tools.
  # openssh-server is for the tests' own sshd (in a netns they make): never started as a system service here
  rcd=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    rcd=/usr/sbin/policy-rc.d; printf '#!/bin/sh\nexit 101\n' > $rcd; chmod +x $rcd
  fi
  echo "kexec-tools kexec-tools/load_kexec boolean false" | debconf-set-selections
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
  [ -z "$rcd" ] || rm -f "$rcd"
fi
[ -z "$apt_changed" ] || apt-get update -qq
# The project's own guest tools (AF_XDP generator, UDP GSO sender, instruction profiler plugin): small,
# rebuilt when their source changes.
make -s tools
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  $PY -m venv .venv
fi
stamp=.venv/.dplab-setup
want=$(sha256sum pyproject.toml | cut -c1-16)
if [ "$(cat $stamp 2>/dev/null)" != "$want" ]; then
  .venv/bin/pip install -q --disable-pip-version-check -e '.[test]'
  echo "$want" > $stamp
fi
