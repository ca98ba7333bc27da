"""The one place that runs host commands, plus tool lookup with apt hints.

Modelled on the kernel selftests' `cmd`/`defer` helpers: small, explicit, no shell.
"""
import shutil
import subprocess
from dataclasses import dataclass

from .errors import LabError, MissingTool

# tool -> Debian package that provides it (for "missing tool" messages and `make setup`).
APT_PACKAGES = {
    "qemu-system-x86_64": "qemu-system-x86",
    "busybox": "busybox-static",
    "ip": "iproute2",
    "iperf3": "iperf3",
    "ethtool": "ethtool",
    "perf": "linux-perf",
    "nstat": "iproute2",
    "depmod": "kmod",
    "dpkg-deb": "dpkg",
    "apt-get": "apt",
    "ccache": "ccache",
    "make": "make",
    "gcc": "gcc",
    "flex": "flex",
    "bison": "bison",
    "bc": "bc",
    "patch": "patch",
    "wg": "wireguard-tools",
    "ping": "iputils-ping",
    "ss": "iproute2",
    "python3": "python3",
}


def which(tool, paths=None):
    """Absolute path of `tool`, or MissingTool naming the apt package."""
    found = shutil.which(tool, path=paths)
    if not found:
        pkg = APT_PACKAGES.get(tool, tool)
        raise MissingTool(f"'{tool}' not found on the host: apt-get install --no-install-recommends {pkg}")
    return found


@dataclass
class Result:
    argv: list
    rc: int
    stdout: str
    stderr: str


def cmd(argv, check=True, timeout=None, cwd=None, env=None, input=None):
    """Run argv (a list, never a shell string) and return a Result; raise LabError on failure if check."""
    argv = [str(a) for a in argv]
    if "/" not in argv[0]:
        which(argv[0])  # a missing tool names its apt package
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env, input=input)
    except subprocess.TimeoutExpired as e:
        raise LabError(f"command timed out after {timeout}s: {' '.join(argv)}") from e
    r = Result(argv, p.returncode, p.stdout, p.stderr)
    if check and p.returncode != 0:
        said = (p.stderr or p.stdout).strip()[-2000:]
        raise LabError(f"command failed (rc={p.returncode}): {' '.join(argv)}\n{said}")
    return r
