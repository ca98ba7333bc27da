"""Fixtures every test folder shares, made of the pytest plugin's own (lab/pytest_plugin.py): the kernel under
test (--lab-kernel, `stock` in this repository's pyproject), its accelerator and one booted guest with both lab
links for the session."""
import os
import shutil
import tempfile
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture(scope="session")
def default_kernel(lab_kernel):
    return lab_kernel


@pytest.fixture(scope="session")
def accel(lab_accel):
    return lab_accel


@pytest.fixture(scope="session")
def host_secret(tmp_path_factory):
    """A file on the host a guest must not read, marked as a user would ($DPLAB_HIDE), before any guest boots."""
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
def booted(host_secret, lab_vm):
    """One guest for the session, links wired (one boot serves many tests): the plugin's lab_vm."""
    return lab_vm
