"""A hardware target as a test environment: the same surface as vm/env.py's GuestEnv (run, sh, snapshot,
links, cfg, alive), so every shipped testcase runs unchanged on a host's two cabled ports.

Each port moves into its own namespace exactly like a guest's NIC (`<link>a`, `<link>b`), is renamed eth0
and gets the lab's addresses; its MAC is the port's own. On exit the ports go back, under their names, to
the namespace the agent runs in, and the namespaces are deleted.
"""
import json
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import GuestError, TargetError
from ..guest.guest import Guest
from ..kernel.image import Kernel
from ..modes import WALLCLOCK
from ..vm.links import NIC_MODELS, Link, NicModel
from .dual import SSH_NAME, Relay, drop_globals, shim_files
from .ssh import AgentHost, exec_sh, get_tree, private_dir


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
    """Context manager: connect, start the agent on one channel, move the ports into the link's namespaces. With
    a side b on another host (dual.py), an agent there too, side b's port and commands on it."""

    def __init__(self, target, cfg, rundir, say=print):
        self.target, self.cfg, self.rundir, self.say = target, cfg, rundir, say
        self.host = AgentHost(target)
        self.host_b = AgentHost(target.side_b) if target.side_b else None
        self.guest = self.guest_b = self.relay = None
        self.boot_seconds = 0.0
        self.timings = {}
        self.hello, self.hellos = {}, {}

    @property
    def links(self):
        return self.cfg.links

    profile_path = None  # no profiler on a host (cfg.profile is False)

    def alive(self):
        return self.host.alive() and (self.host_b is None or self.host_b.alive())

    def per_host(self):
        """[(guest, sides)]: the one host's agent for both sides, or A's for side a and B's for side b."""
        return [(self.guest, "ab")] if self.guest_b is None else [(self.guest, "a"), (self.guest_b, "b")]

    def run(self, argv, **kw):
        return self.guest.run(argv, **kw)

    def sh(self, script, **kw):
        return self.guest.sh(script, **kw)

    def ns_run(self, ns, argv, **kw):
        on_b = self.guest_b is not None and ns == self.cfg.links[0].ns("b")
        return (self.guest_b if on_b else self.guest).ns_run(ns, argv, **kw)

    def cell_dir(self, n):
        """A cell's directory on the host (next to the agent), made now; on host B too, the same path (what side
        b's commands write there comes back into the cell's `b/`)."""
        d = f"{self.host.rdir}/runs/{self.rundir.id}/cells/{n}"
        for g, _ in self.per_host():
            g.run(["mkdir", "-p", d], timeout=30)
        return d

    def fetch_cell(self, n, host_dir):
        """The cell's files, brought back into the run dir (SFTP) and removed from the host(s)."""
        import paramiko
        d = f"{self.host.rdir}/runs/{self.rundir.id}/cells/{n}"
        if not self.alive():  # the connection is gone (the cell fails for that): its files stay on the host
            return
        for (g, sides), host in zip(self.per_host(), (self.host, self.host_b)):
            try:
                sftp = host.client.open_sftp()
                try:
                    get_tree(sftp, d, host_dir if sides != "b" else host_dir / "b")
                finally:
                    sftp.close()
            except (OSError, EOFError, paramiko.SSHException) as e:
                self.say(f"dplab: {host.target.name}: cell {n}'s files stay in {d} on the host: {e}")
                continue
            g.run(["rm", "-rf", d], timeout=30, check=False)

    def snapshot(self, link):
        """Counter sections of both sides (host B's without its global ones: the run's CPU is A's)."""
        texts = [g.snapshot({side: link.ns(side) for side in sides}, link.dev("a")) for g, sides in self.per_host()]
        return texts[0] + "".join(drop_globals(t) for t in texts[1:])

    def _log(self, rec):
        """One command's record in the run's guest-commands.jsonl (both agents' and the relay's)."""
        self.cmdlog.write(json.dumps(rec) + "\n")

    def _agent(self, host, deadline, **kw):
        g = Guest(None, host, log=self._log)
        g.sock = host.start(**kw)
        self.hellos[id(g)] = g.wait_hello(deadline)
        return g

    def __enter__(self):
        t0 = time.monotonic()
        deadline = t0 + self.target.connect_timeout + 30
        self.cmdlog = open(self.rundir.path / "guest-commands.jsonl", "a", buffering=1)
        try:
            shims = {}
            if self.host_b is not None:  # B's agent, then the relay A's `dplab-b` reaches it through
                self.guest_b = self._agent(self.host_b, deadline)
                self.relay = Relay(self.host_b, log=self._log)
                shims = {"bin_files": shim_files(), "env": {"DPLAB_B": self.relay.open(self.host.connect()),
                                                            "DPLAB_B_KEY": self.relay.key,
                                                            "DPLAB_B_NS": self.cfg.links[0].ns("b"),
                                                            "DPLAB_B_SSH": SSH_NAME}}
            self.guest = self._agent(self.host, deadline, **shims)
            if self.host_b is not None:  # A's cell dirs exist on B at the same path: A's private dir, made afresh there
                private_dir(self.host_b.client, self.host.rdir, fresh=True)
            self.hello = self.hellos[id(self.guest)]
            self.boot_seconds = round(time.monotonic() - t0, 2)
            self._wire()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        self.timings["connect"] = self.boot_seconds
        return self

    def _wire(self):
        self._unwire()  # a run that lost its connection left the ports in the namespaces: take them back first
        link, on = self.cfg.links[0], {side: g for g, sides in self.per_host() for side in sides}
        macs = [on[side].sh(f"ip -br link show dev {p} | awk '{{print $3}}'", timeout=30).stdout.strip()
                for side, p in zip("ab", link.ports)]
        driver = self.sh(f"ethtool -i {link.ports[0]} | sed -n 's/^driver: //p'", timeout=30).stdout.strip() or "port"
        cpu = self.sh("sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1", timeout=30).stdout.strip()
        # a port whose driver is one of the lab's NIC models' is that model (a testcase's `when: {nic_model: ...}`
        # applies to it as to a guest's NIC); any other keeps its driver's name
        name = next((m.name for m in NIC_MODELS.values() if m.driver == driver), driver)
        model = NicModel(name, qemu_device="", driver=driver, kconfig="", no_linear=False, carrier_s=0.0)
        link = PortLink(link.index, model, ports=link.ports, macs=tuple(macs))
        self.cfg.links[0] = link
        self.cfg.cpu = cpu or "unknown"
        self.cfg.extra.update(host=str(self.target.ssh), release=self.hello.get("uname"))
        if self.guest_b is not None:
            self.cfg.extra.update(host_b=str(self.target.side_b.ssh),
                                  release_b=self.hellos[id(self.guest_b)].get("uname"))
        for g, sides in self.per_host():
            lines = []
            for side in sides:
                ns, port = link.ns(side), link.ports["ab".index(side)]
                lines += [f"ip netns add {ns}", f"ip link set {port} netns {ns}",
                          f"ip -n {ns} link set {port} name eth0",
                          f"ip -n {ns} addr add {link.addr(side)}/24 dev eth0",
                          f"ip -n {ns} addr add {link.addr6(side)}/64 dev eth0 nodad",
                          f"ip -n {ns} link set lo up", f"ip -n {ns} link set eth0 up"]
            g.sh("\n".join(lines), timeout=60)
        for g, sides in self.per_host():
            g.wait_links([link.ns(s) for s in sides], wired=True)

    def _unwire(self):
        """Ports back under their names into each agent's own namespace (named for the move), namespaces deleted."""
        link = self.cfg.links[0]
        for g, sides in self.per_host():
            if not g.vm.alive():  # that host's connection is gone: its ports are taken back at the next connect
                continue
            pid = int(self.hellos[id(g)].get("pid"))  # a number: it reaches a shell on the host
            home = f"dplab-home-{pid}"
            lines = [f"ip netns attach {home} {pid}"]
            for side in sides:
                ns, port = link.ns(side), link.ports["ab".index(side)]
                lines += [f"if [ -e /run/netns/{ns} ]; then",
                          f"  ip -n {ns} link set eth0 down; ip -n {ns} link set eth0 name {port}",
                          f"  ip -n {ns} link set {port} netns {home}; ip netns del {ns}", "fi"]
            lines.append(f"ip netns del {home}")
            g.sh("\n".join(f"{l} || true" if not l.startswith(("if", "fi")) else l for l in lines), timeout=60,
                 check=False)

    def __exit__(self, *exc):
        try:
            if self.guest is not None:
                self._unwire()
            for g, _ in self.per_host() if self.guest is not None else []:
                g.shutdown(timeout=5)
        except (GuestError, TargetError) as e:
            self.say(f"dplab: {self.target.name}: could not put the ports back: {e}")
        finally:
            if self.host_b is not None and self.host.rdir and self.host_b.alive():
                exec_sh(self.host_b.client, f"rm -rf -- {shlex.quote(self.host.rdir)}", timeout=30)
            for h in (self.host, self.host_b):
                if h is not None:
                    h.close()
            if getattr(self, "cmdlog", None):
                self.cmdlog.close()
        return False
