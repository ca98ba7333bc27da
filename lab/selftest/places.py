"""Where `lab selftest` runs a target's tests, one class per kind, chosen once (`place_for`): guests booted here
(one per --jobs slot, the run dir's guest/ at /lab in each), or a hardware target's host over SSH (--target: one
environment, its two ports as the lab's link, the staged tests copied into the agent's private directory).
Each says how an environment opens, where the staged tests are in it, how much slower than this host it runs,
and what the driver tests take as their remote (netenv.suite_env)."""
import io
import shlex
import subprocess
import tarfile
import time

from ..errors import ConfigError, TargetError
from ..kernel.resolve import resolve_kernel
from ..remote.env import HardwareEnv, hardware_config
from ..remote.hosts import get_target
from ..remote.kexec import own_kernel
from ..remote.ssh import session_output
from ..vm.env import BootSpec, GuestEnv, vm_config

STAGE_TIMEOUT_S = 300  # for the staged tests (2.5 MB for drivers/net) to reach a host
CALIBRATE = "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done"


def tcg_factor(env):
    """How much slower the guest runs a shell loop than this host (>= 1): the factor for the tests' timeouts."""
    t0 = time.monotonic()
    subprocess.run(["sh", "-c", CALIBRATE], check=True)
    host = time.monotonic() - t0
    guest = env.run(["sh", "-c", CALIBRATE], timeout=600).elapsed
    return round(max(1.0, guest / max(host, 1e-3)), 1)


class InGuests:
    """QEMU guests here, each with the lab's links; side b's namespace is the driver tests' remote."""
    kind, remote, root = "guest", "netns", "/lab/kselftest"  # the run dir's guest/kselftest (9p)

    def __init__(self, kernel_spec, links, accel, say):
        self.kernel = resolve_kernel(kernel_spec, say=say)
        self.cfg, self.info = vm_config(BootSpec(kernel=self.kernel, links=list(links), accel=accel), self.kernel,
                                        say=say)
        self.where = {"accel": self.cfg.accel, "accel_info": self.info, "links": list(links)}

    def jobs(self, asked):
        return asked

    def open(self, rd, slot, say):
        return GuestEnv(self.kernel, self.cfg, rd, say=say, slot=slot).__enter__()

    def stage(self, env, rd):
        return self.root

    def factor(self, env):
        return tcg_factor(env) if self.cfg.accel == "tcg" else 1.0


class OnHost:
    """A hardware target's host, its own kernel; side b on another host is the remote over ssh (the relay)."""
    kind = "hardware"

    def __init__(self, target, say):
        self.target, self.kernel, self.cfg = target, own_kernel(target, say), hardware_config(target)
        self.remote = "ssh" if target.side_b else "netns"
        self.where = {"target": target.name, "host": str(target.ssh), "links": ["port"],
                      "host_b": str(target.side_b.ssh) if target.side_b else None}

    def jobs(self, asked):
        return 1  # one host, one pair of ports

    def open(self, rd, slot, say):
        return HardwareEnv(self.target, self.cfg, rd, say=say).__enter__()

    def stage(self, env, rd):
        """The staged tests (with the scaled settings) into the agent's private directory on the host (a tar over
        the agent's session: it goes with that directory when the session ends)."""
        root = f"{env.host.rdir}/kselftest"
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tf:
            tf.add(rd.guest_dir / "kselftest", arcname=".")
        chan = env.host.client.get_transport().open_session()
        chan.exec_command(f"mkdir -p {shlex.quote(root)} && tar -xzf - --no-same-owner -C {shlex.quote(root)}")
        chan.sendall(buf.getvalue())
        chan.shutdown_write()
        _, err = session_output(chan, timeout=STAGE_TIMEOUT_S)  # a host that stops answering never hangs the run
        rc = chan.recv_exit_status() if chan.exit_status_ready() else None
        chan.close()
        if rc != 0:
            why = err.decode(errors="replace").strip()[-300:] if rc is not None else \
                f"tar did not end within {STAGE_TIMEOUT_S} s"
            raise TargetError(f"{self.target.name}: could not put the tests into {root}: {why}")
        return root

    def factor(self, env):
        return 1.0


def place_for(kernel_spec, target=None, hosts=None, links=("virtio",), accel=None, say=print):
    """The place of a `lab selftest` run: guests of `kernel_spec`, or `target` in the hosts file `hosts`."""
    if target is None:
        return InGuests(kernel_spec, links, accel, say)
    if kernel_spec:
        raise ConfigError(f"lab selftest --target {target}: the host runs its own kernel (no --kernel)")
    t = get_target(hosts, target)
    if t.kind != "hardware":
        raise ConfigError(f"lab selftest --target {target}: a {t.kind} target ({t.where}); selftests run on a "
                          f"hardware target's host")
    return OnHost(t, say)
