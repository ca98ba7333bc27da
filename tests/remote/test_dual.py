"""Dual host without hosts (lab/remote/dual.py, shim/): what goes to B, what B's snapshot keeps."""
import subprocess


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
