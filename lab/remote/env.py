"""A hardware target as a test environment: the same surface as vm/env.py's GuestEnv (run, sh, snapshot,
links, cfg, alive), so every shipped testcase runs unchanged on a host's two cabled ports.

Each port moves into its own namespace exactly like a guest's NIC (`<link>a`, `<link>b`), is renamed eth0
and gets the lab's addresses; its MAC is the port's own. On exit the ports go back, under their names, to
the namespace the agent runs in, and the namespaces are deleted.
"""
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import GuestError
from ..guest.guest import Guest
from ..kernel.image import Kernel
from ..modes import WALLCLOCK
from ..vm.links import Link, NicModel
from .ssh import AgentHost, get_tree


@dataclass(frozen=True)
class PortLink(Link):
    """A link made of two real ports: the lab's namespaces and addresses, the ports' own MACs."""

    ports: tuple = ()   # (port a, port b)
    macs: tuple = ()    # their MACs, read from the host

    @property
    def name(self):
        """port<N> whatever the driver (its namespaces port<N>a/b are found again after a lost connection)."""
        return f"port{self.index}"

    def mac(self, side):
        return self.macs["ab".index(side)] if self.macs else Link.mac(self, side)


@dataclass
class HardwareConfig:
    """What the runner and the measurer read of a VMConfig, for a host: wall clock, the host's CPU."""
    links: list
    accel: str = "none (hardware)"
    cpu: str = ""
    mode: object = WALLCLOCK
    profile: bool = False
    backend: str = "hardware"
    extra: dict = field(default_factory=dict)

    def describe(self):
        return {"accel": self.accel, "cpu": self.cpu, "mode": self.mode.name, "backend": self.backend,
                "links": [l.describe() for l in self.links], **self.extra}


def hardware_kernel(target):
    """The kernel a hardware target runs (its own, until kexec): named by the target; release read at connect."""
    return Kernel(name=target.name, image=Path("/dev/null"), release="(read from the host)")


def hardware_config(target, driver="port"):
    model = NicModel(driver, qemu_device="", driver=driver, kconfig="", no_linear=False, carrier_s=0.0)
    return HardwareConfig(links=[PortLink(0, model, ports=(target.ports["a"], target.ports["b"]))])


class HardwareEnv:
    """Context manager: connect, start the agent on one channel, move the ports into the link's namespaces."""

    def __init__(self, target, cfg, rundir, say=print):
        self.target, self.cfg, self.rundir, self.say = target, cfg, rundir, say
        self.host = AgentHost(target)
        self.guest = None
        self.boot_seconds = 0.0
        self.timings = {}
        self.hello = {}

    @property
    def links(self):
        return self.cfg.links

    def alive(self):
        return self.host.alive()

    def run(self, argv, **kw):
        return self.guest.run(argv, **kw)

    def sh(self, script, **kw):
        return self.guest.sh(script, **kw)

    def ns_run(self, ns, argv, **kw):
        return self.guest.ns_run(ns, argv, **kw)

    def cell_dir(self, n):
        """A cell's directory on the host (next to the agent), made now."""
        d = f"{self.host.rdir}/runs/{self.rundir.id}/cells/{n}"
        self.run(["mkdir", "-p", d], timeout=30)
        return d

    def fetch_cell(self, n, host_dir):
        """The cell's files, brought back into the run dir (SFTP) and removed from the host."""
        import paramiko
        d = f"{self.host.rdir}/runs/{self.rundir.id}/cells/{n}"
        if not self.alive():  # the connection is gone (the cell fails for that): its files stay on the host
            return
        try:
            sftp = self.host.client.open_sftp()
            try:
                get_tree(sftp, d, host_dir)
            finally:
                sftp.close()
        except (OSError, EOFError, paramiko.SSHException) as e:
            self.say(f"dplab: {self.target.name}: cell {n}'s files stay in {d} on the host: {e}")
            return
        self.run(["rm", "-rf", d], timeout=30, check=False)

    def snapshot(self, link):
        return self.guest.snapshot({side: link.ns(side) for side in "ab"}, link.dev("a"))

    def __enter__(self):
        t0 = time.monotonic()
        chan = self.host.start()
        self.cmdlog = open(self.rundir.path / "guest-commands.jsonl", "a", buffering=1)
        self.guest = Guest(None, self.host, log=lambda rec: self.cmdlog.write(json.dumps(rec) + "\n"))
        self.guest.sock = chan
        try:
            self.hello = self.guest.wait_hello(time.monotonic() + self.target.connect_timeout + 30)
            self.boot_seconds = round(time.monotonic() - t0, 2)
            self._wire()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        self.timings["connect"] = self.boot_seconds
        return self

    def _wire(self):
        self._unwire()  # a run that lost its connection left the ports in the namespaces: take them back first
        link = self.cfg.links[0]
        pa, pb = link.ports
        macs = [self.sh(f"ip -br link show dev {p} | awk '{{print $3}}'", timeout=30).stdout.strip() for p in (pa, pb)]
        driver = self.sh(f"ethtool -i {pa} | sed -n 's/^driver: //p'", timeout=30).stdout.strip() or "port"
        cpu = self.sh("sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1", timeout=30).stdout.strip()
        model = NicModel(driver, qemu_device="", driver=driver, kconfig="", no_linear=False, carrier_s=0.0)
        link = PortLink(link.index, model, ports=link.ports, macs=tuple(macs))
        self.cfg.links[0] = link
        self.cfg.cpu = cpu or "unknown"
        self.cfg.extra.update(host=str(self.target.ssh), release=self.hello.get("uname"))
        lines = []
        for side, port in zip("ab", link.ports):
            ns = link.ns(side)
            lines += [f"ip netns add {ns}", f"ip link set {port} netns {ns}", f"ip -n {ns} link set {port} name eth0",
                      f"ip -n {ns} addr add {link.addr(side)}/24 dev eth0",
                      f"ip -n {ns} addr add {link.addr6(side)}/64 dev eth0 nodad",
                      f"ip -n {ns} link set lo up", f"ip -n {ns} link set eth0 up"]
        self.sh("\n".join(lines), timeout=60)
        self.guest.wait_links([link.ns(s) for s in "ab"], wired=True)

    def _unwire(self):
        """Ports back under their names into the agent's own namespace (named for the move), namespaces deleted."""
        link = self.cfg.links[0]
        home = f"dplab-home-{self.hello.get('pid')}"
        lines = [f"ip netns attach {home} {self.hello.get('pid')}"]
        for side, port in zip("ab", link.ports):
            ns = link.ns(side)
            lines += [f"if [ -e /run/netns/{ns} ]; then",
                      f"  ip -n {ns} link set eth0 down; ip -n {ns} link set eth0 name {port}",
                      f"  ip -n {ns} link set {port} netns {home}; ip netns del {ns}", "fi"]
        lines.append(f"ip netns del {home}")
        res = self.sh("\n".join(f"{l} || true" if not l.startswith(("if", "fi")) else l for l in lines), timeout=60, check=False)
        return res

    def __exit__(self, *exc):
        try:
            if self.guest is not None and self.host.alive():
                self._unwire()
                self.guest.shutdown(timeout=5)
        except GuestError as e:
            self.say(f"dplab: {self.target.name}: could not put the ports back: {e}")
        finally:
            self.host.close()
            if getattr(self, "cmdlog", None):
                self.cmdlog.close()
        return False
