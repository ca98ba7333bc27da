"""What the manifest records about the host and its tools."""
import os
import platform
import subprocess
from pathlib import Path

from . import __version__


def _version(argv):
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        return (p.stdout or p.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return None


def host_info():
    repo = Path(__file__).resolve().parent.parent
    return {
        "host_kernel": platform.release(),
        "host_machine": platform.machine(),
        "host_cpus": os.cpu_count(),
        "python": platform.python_version(),
        "dplab": __version__,
        "dplab_commit": _version(["git", "-C", str(repo), "rev-parse", "HEAD"]),
        "tools": {
            "qemu": _version(["qemu-system-x86_64", "--version"]),
            "perf": _version(["perf", "--version"]),
            "iperf3": _version(["iperf3", "--version"]),
            "ethtool": _version(["ethtool", "--version"]),
            "ip": _version(["ip", "-V"]),
        },
    }
