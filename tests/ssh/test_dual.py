"""Dual host against two sshds: side b on another host, and the relay's key, paths and links."""
import json
import shutil
import tempfile
from pathlib import Path

from tests.support import ROOT
from tests.support.sshd import MARKS

pytestmark = MARKS  # slow, root, openssh-server







def test_side_b_on_another_host_runs_shipped_testcases_unchanged(two_hosts, tmp_path):
    from lab.runner import RunOptions, run_testcase
    from lab.workloads import load_testcase
    cases = [("throughput", {"protocol": ["tcp"]}), ("tunnel", {"tunnel": ["vxlan"], "gso": ["on"]}),
             ("udpgso", None)]
    for name, axes in cases:
        tc = load_testcase(ROOT / "testcases" / f"{name}.yaml")
        if axes is None:  # one cell of it, whatever its axes
            axes = {k: [v[0]] for k, v in tc.axes.items()}
        rd = run_testcase(tc, RunOptions(target="pair", hosts=str(two_hosts), axes=axes, repeat=1, duration=1,
                                         runs_root=str(tmp_path / name)), say=print)
        [r] = [r for r in rd.results() if not r.get("retried")]
        assert r["status"] == "ok", (name, r.get("error"))
        c = r["counters"]
        assert c["a.link.tx_packets"] > 0 and c["b.link.rx_packets"] >= 0.9 * c["a.link.tx_packets"], (name, c)
        cmds = [json.loads(l) for l in (rd.path / "guest-commands.jsonl").read_text().splitlines()]
        on_b = [x for x in cmds if x.get("host") == "b"]  # what the relay ran on B
        assert any(x["argv"][:4] == ["ip", "netns", "exec", "port0b"] for x in on_b), (name, on_b[:5])


def test_commands_for_side_b_run_there_with_their_files_and_stdin(two_hosts, tmp_path):
    """Through the environment itself: a file under /tmp that a side-b command names goes with it (B's /tmp is
    its own: a path hidden in a shell string does not, and is missing there); stdin from a pipe goes too."""
    from lab.remote.env import HardwareEnv, hardware_config
    from lab.remote.hosts import get_target
    from lab.results.rundir import RunDir
    t = get_target(two_hosts, "pair")
    with HardwareEnv(t, hardware_config(t), RunDir.create(tmp_path / "runs", "dual")) as env:
        env.sh("rm -rf /tmp/dual-k; umask 077; mkdir -p /tmp/dual-k && echo key-from-a > /tmp/dual-k/b.key")
        assert env.sh("ip netns exec port0b cat /tmp/dual-k/b.key").stdout == "key-from-a\n"
        assert env.sh("ip netns exec port0b stat -c %a /tmp/dual-k/b.key").stdout == "600\n"  # its mode too
        hidden = env.sh("ip netns exec port0b sh -c 'cat /tmp/dual-k/b.key.2' || echo missing on b; "
                        "cp /tmp/dual-k/b.key /tmp/dual-k/b.key.2")
        assert "missing on b" in hidden.stdout
        assert env.sh("echo piped | ip netns exec port0b cat").stdout == "piped\n"
        a_ns = env.sh("ip netns exec port0a ip -br link show dev eth0").stdout
        b_ns = env.ns_run("port0b", ["ip", "-br", "link", "show", "dev", "eth0"]).stdout
        assert a_ns.split()[2] == env.links[0].mac("a") and b_ns.split()[2] == env.links[0].mac("b")
        # A itself cannot enter side b's namespace (the name's file shows through the shared /run, not the netns)
        assert env.sh("/usr/sbin/ip netns exec port0b true", check=False).rc != 0
        rc = env.sh("ip -n port0b link show dev nonexistent0", check=False)
        assert rc.rc != 0 and "nonexistent0" in rc.stderr  # B's exit status and stderr, as if here
        env.sh("rm -rf /tmp/dual-k")


def test_the_relay_serves_only_this_runs_key_and_never_writes_outside_tmp_or_through_a_link(two_hosts, tmp_path):
    """Issue 26 row 4: a local process on A that connects to the relay's port without the run's key runs nothing
    on B; with it, a file path that climbs out of /tmp is refused, a link planted in B's /tmp is replaced, not
    followed, and a directory link on the way is refused."""
    from lab.remote.env import HardwareEnv, hardware_config
    from lab.remote.hosts import get_target
    from lab.results.rundir import RunDir
    victim = Path(tempfile.mkdtemp(prefix="dplab-victim-", dir="/var/tmp"))
    (victim / "f").write_text("host file\n")
    marker = Path(f"/var/tmp/dplab-relay-pwned-{id(tmp_path)}")
    send = ("import base64, json, os, socket, sys; s = socket.create_connection(('127.0.0.1', "
            "int(os.environ['DPLAB_B'])));"
            "s.sendall(sys.argv[1].replace('KEY', os.environ['DPLAB_B_KEY']).encode() + b'\\n');"
            "r = json.loads(s.makefile().readline()); print(r['rc']); print(base64.b64decode(r['stderr']).decode())")
    t = get_target(two_hosts, "pair")
    try:
        with HardwareEnv(t, hardware_config(t), RunDir.create(tmp_path / "runs", "dual")) as env:
            def relay(req):
                return env.run(["python3", "-c", send, json.dumps(req)], timeout=60).stdout
            out = relay({"argv": ["touch", str(marker)]})
            assert out.startswith("255") and "without this run's key: refused" in out and not marker.exists()
            data = "b3duZWQK"  # "owned\n"
            out = relay({"key": "KEY", "argv": ["true"], "files": {"/tmp/../var/tmp/x": [data, 420]}})
            assert "normalised paths under /tmp" in out
            env.sh(f"ip netns exec port0b ln -sf {victim}/f /tmp/dplab-lnk; ip netns exec port0b ln -sfn {victim} "
                   "/tmp/dplab-dir")
            out = relay({"key": "KEY", "argv": ["cat", "/tmp/dplab-lnk"], "files": {"/tmp/dplab-lnk": [data, 384]}})
            assert out.startswith("0") and (victim / "f").read_text() == "host file\n"
            assert env.sh("ip netns exec port0b stat -c %F /tmp/dplab-lnk").stdout.strip() == "regular file"
            out = relay({"key": "KEY", "argv": ["true"], "files": {"/tmp/dplab-dir/g": [data, 384]}})
            assert "is not a directory of uid" in out and not (victim / "g").exists()
    finally:
        shutil.rmtree(victim, ignore_errors=True)
        marker.unlink(missing_ok=True)
