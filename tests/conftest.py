"""Shared fixtures: the default kernel and a booted guest with both lab links."""
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAB = [sys.executable, "-m", "lab.cli"]


@pytest.fixture(scope="session")
def default_kernel():
    from lab.kernel import resolve_kernel
    # the lab kernel (boots in ~3 s under TCG; Debian's in ~8.5 s): Debian's is covered where it is the point
    return resolve_kernel(os.environ.get("DPLAB_TEST_KERNEL") or "stock")


@pytest.fixture(scope="session")
def accel(default_kernel):
    from lab.vm.accel import choose_accel
    return choose_accel(default_kernel, os.environ.get("DPLAB_TEST_ACCEL"))[0]


@pytest.fixture(scope="session")
def host_secret(tmp_path_factory):
    """A file on the host the guest must not read, marked as a user would ($DPLAB_HIDE), before any guest boots."""
    d = Path(tempfile.mkdtemp(prefix="dplab-secret-", dir="/var/tmp"))  # host-backed in the guest (its /tmp is tmpfs)
    p = d / "token"
    p.write_text("dplab-host-secret-0123456789\n")
    old = os.environ.get("DPLAB_HIDE")
    os.environ["DPLAB_HIDE"] = ":".join(x for x in (old, str(p)) if x)
    yield p
    shutil.rmtree(d, ignore_errors=True)
    if old is None:
        os.environ.pop("DPLAB_HIDE", None)
    else:
        os.environ["DPLAB_HIDE"] = old


@pytest.fixture(scope="session")
def booted(default_kernel, accel, tmp_path_factory, host_secret):
    """One guest for the session, links wired (one boot serves many tests)."""
    from lab.results.rundir import RunDir
    from lab.vm.env import BootSpec, boot
    rd = RunDir.create(tmp_path_factory.mktemp("runs"), "session")
    with boot(BootSpec(kernel=default_kernel, links=["virtio", "e1000e"], accel=accel), rd) as env:
        yield env

pytest_plugins = ["pytester"]
