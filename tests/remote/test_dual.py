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


def test_ssh_and_scp_to_dplab_b_go_to_side_b_and_every_other_one_is_the_real_program(tmp_path):
    """The selftests' REMOTE_TYPE=ssh (remote_ssh.py: `ssh -q NAME CMD`, `scp FILE NAME:PATH`) through the shims,
    with a dplab-b that says what it was given and what came on its stdin; real ssh/scp stand-ins after them."""
    import os
    import shutil

    from lab.remote.dual import SHIMS, SSH_NAME
    shims, real = tmp_path / "shims", tmp_path / "real"
    shims.mkdir()
    real.mkdir()
    for n in ("ssh", "scp"):
        shutil.copy(SHIMS / n, shims / n)
        (real / n).write_text(f"#!/bin/sh\necho \"real {n}: $*\"\n")
    (shims / "dplab-b").write_text('#!/bin/sh\necho "to b: $*"; x=$(cat); [ -z "$x" ] || printf "stdin: %s" "$x"\n')
    for f in (*shims.iterdir(), *real.iterdir()):
        os.chmod(f, 0o755)
    env = {**os.environ, "PATH": f"{shims}:{real}:/usr/bin:/bin", "DPLAB_B_NS": "port0b", "DPLAB_B_SSH": SSH_NAME}

    def run(*argv, stdin=subprocess.DEVNULL):
        r = subprocess.run(argv, env=env, capture_output=True, text=True, stdin=stdin, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        return r.stdout

    assert run("ssh", "-q", SSH_NAME, "ping -c 1 -W0.5 192.0.2.1") == \
        "to b: ip netns exec port0b sh -c ping -c 1 -W0.5 192.0.2.1\n"
    assert run("ssh", "-o", "BatchMode=yes", "-p", "22", SSH_NAME, "ip", "-j", "link") == \
        "to b: ip netns exec port0b sh -c ip -j link\n"  # options skipped, the words joined as ssh does
    assert run("ssh", "-q", "root@192.0.2.9", "true") == "real ssh: -q root@192.0.2.9 true\n"
    assert run("ssh", "-l", SSH_NAME, "gen1", "true") == f"real ssh: -l {SSH_NAME} gen1 true\n"  # a value, not a host
    tool = tmp_path / "xdp_tool"
    tool.write_bytes(b"ELF...")
    os.chmod(tool, 0o750)
    out = run("scp", str(tool), f"{SSH_NAME}:/tmp/abcdefgh/xyzxdp_tool")
    assert out.startswith("to b: ip netns exec port0b sh -c d=") and out.endswith("stdin: ELF...")
    assert "cat > \"$d\" && chmod 750 \"$d\"" in out and "/tmp/abcdefgh/xyzxdp_tool" in out
    assert run("scp", str(tool), "gen1:/tmp/x") == f"real scp: {tool} gen1:/tmp/x\n"
    run("scp", f"{SSH_NAME}:/tmp/abcdefgh/out.json", str(tmp_path / "back"))
    assert (tmp_path / "back").read_text() == "to b: ip netns exec port0b sh -c cat -- /tmp/abcdefgh/out.json\n"
    del env["DPLAB_B_SSH"]  # not a dual-host run: the shims step aside
    assert run("ssh", "-q", SSH_NAME, "true") == f"real ssh: -q {SSH_NAME} true\n"


def test_host_b_snapshot_keeps_only_its_side():
    from lab.remote.dual import drop_globals
    b = "@@ softnet -\n1 2 3\n@@ stat -\ncpu 1 2\n@@ link b\ntx_bytes 5\n@@ nstat b\nIpInReceives 7\n"
    assert drop_globals(b) == "@@ link b\ntx_bytes 5\n@@ nstat b\nIpInReceives 7\n"
