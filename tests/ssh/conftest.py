"""Fixtures of the SSH tests: one sshd (`sshd`), or two with a cable between them (`two_hosts`)."""
import tempfile
from pathlib import Path

import pytest

from tests.support.sshd import PORT, Sshd, sh


@pytest.fixture
def sshd(tmp_path):
    s = Sshd(tmp_path)
    try:
        yield s.start()
    finally:
        s.stop()



@pytest.fixture
def two_hosts(tmp_path):
    a = Sshd(tmp_path / "a")
    b = Sshd(Path(tempfile.mkdtemp(prefix="dplab-hostb-", dir="/var/tmp")), n=1, private_tmp=True)
    a.tmp.mkdir()
    try:
        a.start()
        b.start()
        sh("ip", "-n", a.ns, "link", "set", "pb0", "netns", b.ns)  # the cable: pa0 on A, pb0 on B
        f = tmp_path / "hosts.yaml"
        f.write_text(f"targets:\n  pair:\n    kind: hardware\n    ssh: ssh://root@{a.ns_ip}:{PORT}\n"
                     f"    key: a/client_key\n    known_hosts: a/known_hosts\n    ports: {{a: pa0, b: pb0}}\n"
                     f"    side_b: {{ssh: 'ssh://root@{b.ns_ip}:{PORT}', key: {b.tmp}/client_key, "
                     f"known_hosts: {b.tmp}/known_hosts}}\n")
        yield f
    finally:
        b.stop()
        a.stop()
        sh("rm", "-rf", str(b.tmp))

