"""Dual-host targets as units (remote/hosts.py side_b, the ip shim, snapshots); the real thing: test_dual.py."""
import subprocess

import pytest

from lab.errors import ConfigError


def test_side_b_in_the_hosts_file(tmp_path):
    from lab.remote.hosts import get_target
    for f in ("key", "known_hosts", "kb"):
        (tmp_path / f).write_text("")
    base = ("targets:\n  pair:\n    kind: hardware\n    ssh: ssh://root@192.0.2.1\n    key: key\n"
            "    known_hosts: known_hosts\n    ports: {a: p0, b: q0}\n")
    (tmp_path / "h.yaml").write_text(base + "    side_b: {ssh: 'ssh://gen@192.0.2.2:2200', key: kb}\n")
    t = get_target(tmp_path / "h.yaml", "pair")
    b = t.side_b
    assert (b.name, str(b.ssh), b.key, b.known_hosts) == ("pair/b", "ssh://gen@192.0.2.2:2200", tmp_path / "kb",
                                                          t.known_hosts)
    (tmp_path / "h.yaml").write_text(base + "    side_b: {ssh: 'ssh://gen@192.0.2.2', pors: {b: q0}}\n")
    with pytest.raises(ConfigError, match=r"h.yaml:8: targets.pair.side_b.pors: unknown key; allowed: ssh, key"):
        get_target(tmp_path / "h.yaml", "pair")
    (tmp_path / "h.yaml").write_text(base + "    side_b: {key: kb}\n")
    with pytest.raises(ConfigError, match=r"h.yaml:8: targets.pair.side_b: missing required key 'ssh'"):
        get_target(tmp_path / "h.yaml", "pair")


def test_the_ip_shim_sends_only_side_b_commands_to_host_b(tmp_path):
    """The shim as the agent's PATH has it, with a dplab-b that says what it was given."""
    import os
    import shutil

    from lab.remote.dual import SHIMS
    shutil.copy(SHIMS / "ip", tmp_path / "ip")
    (tmp_path / "dplab-b").write_text("#!/bin/sh\necho \"to b: $*\"\n")
    os.chmod(tmp_path / "dplab-b", 0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}", "DPLAB_B_NS": "port0b"}

    def ip(*args):
        return subprocess.run(["sh", "-c", 'ip "$@"', "ip", *args], env=env, capture_output=True, text=True).stdout

    assert ip("-n", "port0b", "link", "show") == "to b: ip -n port0b link show\n"
    assert ip("netns", "exec", "port0b", "ss", "-ltn") == "to b: ip netns exec port0b ss -ltn\n"
    assert "to b" not in ip("-n", "port0bb", "link", "show") and "to b" not in ip("-br", "link", "show", "lo")
    assert ip("-br", "link", "show", "lo").startswith("lo ")  # the real ip, past the shim


def test_host_b_snapshot_keeps_only_its_side():
    from lab.remote.dual import drop_globals
    b = "@@ softnet -\n1 2 3\n@@ stat -\ncpu 1 2\n@@ link b\ntx_bytes 5\n@@ nstat b\nIpInReceives 7\n"
    assert drop_globals(b) == "@@ link b\ntx_bytes 5\n@@ nstat b\nIpInReceives 7\n"
