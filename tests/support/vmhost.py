"""A QEMU guest standing in for a lab host that kexecs: the lab kernel (CONFIG_KEXEC), the host's root over 9p as
in a lab guest (the lab's own stage 1), sshd instead of the agent, reachable at 127.0.0.1:<port> only (QEMU
user net with a host forward); two ports, pa0 and pb0, cabled back to back (a lab virtio link on a hub); its
serial console in a file, as a console server would keep it. The same initrd is reused by every kexec."""
import gzip
import shutil
import socket
import subprocess
import time
from pathlib import Path

from lab.guest import GUEST_SOURCES
from lab.host import which
from lab.kernel.initramfs import Cpio
from lab.vm.links import Link, nic_model

SSH_MAC = "52:54:00:99:00:01"
APPEND = "console=ttyS0 panic=-1 rdinit=/init mitigations=off 8250.nr_uarts=1 tsc=reliable no_timer_check"
HOST_SH = """#!/bin/sh
# the stand-in host's init: NICs named by MAC, the SSH NIC on QEMU's user net, sshd
for i in /sys/class/net/*; do
  case "$(cat $i/address)" in
    {ssh_mac}) ip link set ${{i##*/}} name ssh0 ;;
    {mac_a}) ip link set ${{i##*/}} name pa0 ;;
    {mac_b}) ip link set ${{i##*/}} name pb0 ;;
  esac
done
ip addr add 10.0.2.15/24 dev ssh0; ip link set ssh0 up; ip route add default via 10.0.2.2
mkdir -p /run/sshd /var/tmp
echo "vmhost: sshd at $(cut -d' ' -f1 /proc/uptime) s on $(uname -r)"
/usr/sbin/sshd -D -e -f /lab/sshd_config &
while :; do wait; sleep 1; done
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class VmHost:
    def __init__(self, tmp, kernel):
        self.tmp, self.kernel = Path(tmp), kernel
        self.share = self.tmp / "share"
        self.serial = self.tmp / "serial.log"
        self.port = free_port()
        self.link = Link(0, nic_model("virtio"))
        self.proc = None

    def _files(self):
        s, t = self.share, self.tmp
        s.mkdir(parents=True, exist_ok=True)
        for name in ("host_key", "client_key", "other_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(s / name)], check=True)
        shutil.copy(s / "client_key", t / "client_key")
        shutil.copy(s / "client_key.pub", s / "authorized_keys")
        (s / "sshd_config").write_text(
            "Port 22\nHostKey /lab/host_key\nAuthorizedKeysFile /lab/authorized_keys\nPermitRootLogin "
            "prohibit-password\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
            "PidFile /run/sshd.pid\nSubsystem sftp internal-sftp\n")
        pub = (s / "host_key.pub").read_text().split()
        (t / "known_hosts").write_text(f"[127.0.0.1]:{self.port} {pub[0]} {pub[1]}\n")
        (s / "host.sh").write_text(HOST_SH.format(ssh_mac=SSH_MAC, mac_a=self.link.mac("a"), mac_b=self.link.mac("b")))
        init = (GUEST_SOURCES / "init.sh").read_text()
        agent = "/usr/bin/python3 -S /lab/agent.py"
        assert agent in init, "lab/guest/init.sh no longer ends by starting the agent: update tests/support/vmhost.py"
        c = Cpio()
        for d in ("bin", "dev", "proc", "sys", "modules", "newroot", "host"):
            c.dir(d)
        c.file("bin/busybox", Path(which("busybox")).read_bytes(), 0o755)
        c.file("init", init.replace(agent, "/bin/sh /lab/host.sh").encode(), 0o755)
        c.file("modules/order", b"")
        (s / "initrd.gz").write_bytes(gzip.compress(c.finish(), 6))

    def hosts(self, timeout=120, initrd="/lab/initrd.gz", name="vmhost"):
        """A hosts file naming this host as a hardware target that kexecs."""
        f = self.tmp / f"hosts-{name}.yaml"
        f.write_text(f"targets:\n  {name}:\n    kind: hardware\n    ssh: ssh://root@127.0.0.1:{self.port}\n"
                     f"    key: client_key\n    known_hosts: known_hosts\n    ports: {{a: pa0, b: pb0}}\n"
                     f"    connect_timeout: 10\n    kexec:\n      timeout: {timeout}\n      serial_log: serial.log\n"
                     f"      initrd: {initrd}\n")
        return f

    def start(self, accel="tcg", boot_timeout=120):
        self._files()
        argv = [which("qemu-system-x86_64"), "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
                "-machine", "q35", "-accel", accel, "-cpu", "max", "-smp", "1", "-m", "1G",
                "-serial", f"file:{self.serial}", "-kernel", str(self.kernel.image),
                "-initrd", str(self.share / "initrd.gz"), "-append", APPEND,
                "-fsdev", "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap",
                "-device", "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot",
                "-fsdev", f"local,id=labrun,path={self.share},security_model=none,readonly=on",
                "-device", "virtio-9p-pci,fsdev=labrun,mount_tag=labrun", "-device", "virtio-rng-pci",
                "-netdev", f"user,id=ssh,net=10.0.2.0/24,hostfwd=tcp:127.0.0.1:{self.port}-10.0.2.15:22",
                "-device", f"virtio-net-pci,netdev=ssh,mac={SSH_MAC},romfile=",
                *self.link.qemu_args("hub")]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(self.tmp / "qemu.err", "w"))
        deadline = time.monotonic() + boot_timeout
        while not self.serial.exists() or b"Server listening" not in self.serial.read_bytes():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"the stand-in host did not start sshd: {self.serial.read_text()[-2000:]}"
                                   f"{(self.tmp / 'qemu.err').read_text()}")
            time.sleep(0.5)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
