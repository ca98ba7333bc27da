"""Hardware targets over SSH against a real sshd: host keys, the agent channel, private dirs, shipped testcases on
veth ports."""
import os
import shutil
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest

from lab.errors import ConfigError, GuestError, TargetError
from tests.support import ROOT
from tests.support.sshd import MARKS, NS_IP, PORT, sh

pytestmark = MARKS  # slow, root, openssh-server


def test_unknown_and_changed_host_keys_are_refused(sshd):
    from lab.remote.ssh import connect
    (sshd.tmp / "empty").write_text("")
    with pytest.raises(ConfigError, match=r"host key not in .*empty \(ssh-ed25519 SHA256:.*add this line:\n\[198"):
        connect(sshd.target(known_hosts="empty"))
    other = (sshd.tmp / "other_key.pub").read_text().split()
    (sshd.tmp / "changed").write_text(f"[{NS_IP}]:{PORT} {other[0]} {other[1]}\n")
    with pytest.raises(ConfigError, match="host key CHANGED"):
        connect(sshd.target(known_hosts="changed"))
    with pytest.raises(ConfigError, match="authentication with .*other_key failed"):
        connect(sshd.target(key="other_key"))


def test_a_jump_host_carries_the_connection(sshd):
    """jump: the target is reached through a direct-tcpip channel of the jump host's connection (here the
    jump host is the same sshd, which forwards to itself: two SSH sessions, one inside the other)."""
    from lab.remote.ssh import connect
    client, jump = connect(sshd.target(jump=True))
    try:
        assert jump is not None and client.get_transport().sock.__class__.__name__ == "Channel"
        _, out, _ = client.exec_command("echo through")
        assert out.read().decode().strip() == "through"
    finally:
        client.close()
        jump.close()


def test_one_agent_channel_costs_less_per_command_than_exec_command_and_kills_on_timeout(sshd):
    from lab.guest.guest import Guest
    from lab.remote.ssh import AgentHost
    host = AgentHost(sshd.target())
    g = Guest(None, host)
    g.sock = host.start()
    try:
        assert g.wait_hello(time.monotonic() + 30)["event"] == "hello"
        n = 20
        t0 = time.monotonic()
        for _ in range(n):
            assert g.run(["true"]).rc == 0
        agent = (time.monotonic() - t0) / n
        t0 = time.monotonic()
        for _ in range(n):
            _, out, _ = host.client.exec_command("true")
            assert out.channel.recv_exit_status() == 0
        per_exec = (time.monotonic() - t0) / n
        print(f"per command: agent channel {agent * 1e3:.1f} ms, exec_command {per_exec * 1e3:.1f} ms")
        assert agent < per_exec, (agent, per_exec)
        # a command that outlives its timeout: its whole process group is killed on the host
        with pytest.raises(GuestError, match="timed out after 1s"):
            g.sh("sleep 300 & echo $! > /tmp/dplab-remote-sleep; wait", timeout=1)
        pid = int(Path("/tmp/dplab-remote-sleep").read_text())
        time.sleep(0.2)
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
    finally:
        host.close()


def test_remote_directories_are_private_and_what_runs_there_is_checked_first(sshd, tmp_path):
    """Issue 26 row 3: a directory a local user of the host planted (theirs, open to all, or a link) is refused;
    the agent gets a fresh 0700 directory of a random name each session, removed after; a file whose content is
    not what was sent does not run; a remote command that hangs ends at its timeout."""
    import re

    from lab.guest.guest import Guest
    from lab.remote.ssh import AgentHost, connect, exec_sh, private_dir, verify_cmd
    base = Path(f"/var/tmp/dplab-test-{os.getpid()}")
    base.mkdir()
    try:
        client, _ = connect(sshd.target())
        theirs = base / "theirs"
        theirs.mkdir()
        os.chown(theirs, 65534, 65534)
        with pytest.raises(TargetError, match=r"theirs is a directory of uid 65534, mode 755: not a private directory "
                                             r"of uid 0"):
            private_dir(client, str(theirs))
        (base / "open").mkdir(mode=0o777)
        os.chmod(base / "open", 0o777)
        with pytest.raises(TargetError, match="mode 777: not a private directory"):
            private_dir(client, str(base / "open"))
        (base / "link").symlink_to("/tmp")
        with pytest.raises(TargetError, match="is a symbolic link"):
            private_dir(client, str(base / "link"))
        with pytest.raises(TargetError, match="cannot make the private directory"):
            private_dir(client, str(theirs), fresh=True)
        made = Path(private_dir(client, str(base / "new" / "kernels")))
        assert stat.S_IMODE(made.stat().st_mode) == 0o700 and made.stat().st_uid == 0
        (made / "bzImage").write_text("not the image that was sent\n")
        check = verify_cmd({str(made / "bzImage"): "0" * 64})
        assert exec_sh(client, f"{check} && echo loaded")[1] == ""  # a changed file is never used
        t0 = time.monotonic()
        with pytest.raises(TargetError, match="did not end within 1 s"):
            exec_sh(client, "sleep 60", timeout=1)
        assert time.monotonic() - t0 < 10
        client.close()
        planted = Path("/tmp/dplab-agent-0123456789abcdef")  # what the old content-named directory looked like
        planted.mkdir(exist_ok=True)
        (planted / ".ready").write_text("x")
        (planted / "agent.py").write_text(f"open({str(tmp_path / 'pwned')!r}, 'w').write('ran')\n")
        host = AgentHost(sshd.target())
        g = Guest(None, host)
        g.sock = host.start()
        try:
            assert g.wait_hello(time.monotonic() + 30)["event"] == "hello"
            rdir = Path(host.rdir)
            assert re.fullmatch(r"/tmp/dplab-agent\.[A-Za-z0-9]{10}", str(rdir)) and rdir != planted
            assert stat.S_IMODE(rdir.stat().st_mode) == 0o700 and rdir.stat().st_uid == 0
        finally:
            host.close()
        assert not rdir.exists() and not (tmp_path / "pwned").exists()
    finally:
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree("/tmp/dplab-agent-0123456789abcdef", ignore_errors=True)


def host_has_esp_gcm():
    """Whether this machine's kernel takes an AES-GCM ESP state (the hardware target here is this machine)."""
    ns = f"dlesp{os.getpid() % 100000}"
    sh("ip", "netns", "add", ns)
    try:
        return subprocess.run(["ip", "-n", ns, "xfrm", "state", "add", "src", "198.18.251.1", "dst", "198.18.251.2",
                               "proto", "esp", "spi", "0x100", "mode", "transport", "aead", "rfc4106(gcm(aes))",
                               "0x" + "11" * 20, "128"], capture_output=True).returncode == 0
    finally:
        sh("ip", "netns", "del", ns)


def test_hardware_kind_runs_shipped_testcases_unchanged_on_veth_ports(sshd, tmp_path):
    from lab.runner import RunOptions, run_testcase
    from lab.workloads import load_testcase
    hosts = sshd.hosts()
    runs = {}
    cases = [("throughput", {"protocol": ["tcp"]}), ("xsk", {"size": [64]})]
    if host_has_esp_gcm():
        cases.append(("ipsec", {"alg": ["gcm"], "esp_mode": ["transport"]}))
    else:
        print("this machine's kernel has no ESP with AES-GCM: the ipsec cell is not run through the hardware kind")
    for name, axes in cases:
        tc = load_testcase(ROOT / "testcases" / f"{name}.yaml")
        rd = run_testcase(tc, RunOptions(target="veth", hosts=str(hosts), axes=axes, repeat=1, duration=1,
                                         runs_root=str(tmp_path / name)), say=print)
        [r] = [r for r in rd.results() if not r.get("retried")]
        assert r["status"] == "ok", r.get("error")
        assert r["nic_model"] == "veth" and r["link"] == "port0" and r["accel"] == "none (hardware)"
        assert rd.manifest["accel_info"] == {"target": "veth", "kind": "hardware"}
        runs[name] = r
    c = runs["throughput"]["counters"]
    assert runs["throughput"]["value"] > 0 and c["a.link.tx_bytes"] > 0.9 * runs["throughput"]["extra"]["bytes"]
    x = runs["xsk"]
    assert x["value"] > 0 and x["counters"]["a.link.tx_packets"] >= 0.9 * x["extra"]["packets"]
    if "ipsec" in runs:
        e = runs["ipsec"]["counters"]
        assert e["x.collect.sa_bytes"] > 0.9 * runs["ipsec"]["extra"]["bytes"] and e["x.collect.sa_rx_failed"] == 0
    # the ports went back under their names, the namespaces are gone
    names = [l.split("@")[0] for l in sh("ip", "-n", sshd.ns, "-br", "link").stdout.splitlines()]
    assert "pa0" in names and "pb0" in names, names
    assert "port0a" not in sh("ip", "netns", "list").stdout


def test_the_hosts_own_kernel_is_checked_before_a_run(sshd, tmp_path):
    """Its config comes over SSH (/proc/config.gz here): a testcase needing what it lacks stops before measuring."""
    import gzip

    from lab.runner import RunOptions, run_testcase
    from lab.workloads import load_testcase
    if "CONFIG_WIREGUARD=" in gzip.decompress(Path("/proc/config.gz").read_bytes()).decode():
        pytest.skip("this machine's kernel has WireGuard: no option a shipped testcase needs is missing")
    tc = load_testcase(ROOT / "testcases/tunnel.yaml")
    with pytest.raises(ConfigError, match=r"kernel veth \(.*\.config\) lacks options .*\n  CONFIG_WIREGUARD "
                                          r"\(tunnel=wireguard\)"):
        axes = {"tunnel": ["wireguard"], "gso": ["on"]}
        run_testcase(tc, RunOptions(target="veth", hosts=str(sshd.hosts()), axes=axes,
                                    repeat=1, duration=1, runs_root=str(tmp_path / "runs")), say=print)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())  # nothing measured, no run dir


def test_lab_run_goes_on_to_the_next_target_when_one_cannot_be_reached(sshd, tmp_path):
    import json
    import sys
    s = socket.socket()
    s.bind(("127.0.0.1", 0))  # a port nothing listens on: the host that is gone
    dead = s.getsockname()[1]
    s.close()
    hosts = sshd.tmp / "two.yaml"
    hosts.write_text(sshd.hosts().read_text() + f"  dead:\n    kind: hardware\n    ssh: ssh://root@127.0.0.1:{dead}\n"
                     f"    key: client_key\n    known_hosts: known_hosts\n    ports: {{a: pa0, b: pb0}}\n")
    p = subprocess.run([sys.executable, "-m", "lab.cli", "run", str(ROOT / "testcases/throughput.yaml"), "--target",
                        "dead",
                        "--target", "veth", "--hosts", str(hosts), "--axis", "protocol=tcp", "--repeat", "1",
                        "--duration", "1", "--runs", str(tmp_path / "runs")], capture_output=True, text=True,
                        timeout=300, cwd=ROOT)
    assert p.returncode == 1 and f"lab: error: target dead: ssh://root@127.0.0.1:{dead}" in p.stderr, p.stderr[-2000:]
    assert "cannot connect" in p.stderr and "dplab: target veth" in p.stdout, p.stdout[-2000:]
    [run] = list((tmp_path / "runs").iterdir())  # only the reachable target made a run, and it measured
    [r] = [json.loads(l) for l in (run / "results.jsonl").read_text().splitlines()]
    assert r["status"] == "ok" and json.loads((run / "manifest.json").read_text())["options"]["target"] == "veth"


def test_sshd_killed_mid_run_keeps_results_and_resume_completes(sshd, tmp_path):
    import threading

    from lab.results.rundir import RunDir
    from lab.runner import RunOptions, run_testcase
    from lab.workloads import load_testcase
    tc = load_testcase(ROOT / "testcases/throughput.yaml")
    opts = RunOptions(target="veth", hosts=str(sshd.hosts()), axes={"protocol": ["tcp"]}, repeat=4, duration=1,
                      runs_root=str(tmp_path))
    err = []
    t = threading.Thread(target=lambda: err.append(_catch(lambda: run_testcase(tc, opts, say=print))))
    t.start()
    deadline = time.monotonic() + 120
    while not any(p.read_text().count("\n") >= 1 for p in tmp_path.glob("*/results.jsonl")):
        assert time.monotonic() < deadline and t.is_alive(), err
        time.sleep(0.05)
    sshd.kill_all()
    t.join(120)
    assert err and isinstance(err[0], TargetError) and "cannot connect" in str(err[0]), err
    [rd_path] = tmp_path.glob("*-throughput-*")
    recs = RunDir(rd_path).results()
    assert recs[0]["status"] == "ok" and len({r["cell"] for r in recs if r["status"] == "ok"}) < 4, recs
    sshd.listen()
    rd = run_testcase(load_testcase(ROOT / "testcases/throughput.yaml"),
                      RunOptions(**RunDir(rd_path).manifest["options"]),
                      say=print, resume=RunDir(rd_path))
    ok = {r["cell"] for r in rd.results() if r["status"] == "ok"}
    assert ok == {1, 2, 3, 4} and rd.manifest["status"] in ("ok", "partial"), rd.results()


def _catch(fn):
    try:
        fn()
    except Exception as e:  # the run's error, for the test to look at
        return e
    return None


PLUGIN_TEST = '''
def test_ports_pass_traffic(lab_link):
    assert lab_link.model == "veth"
    lab_link.ns_run("a", ["ping", "-c", "1", "-W", "2", lab_link.addr("b")])


def test_a_testcase_on_the_target(lab_measure):
    m = lab_measure("{root}/testcases/throughput.yaml", duration=1, axes={{"protocol": ["tcp"]}})
    [r] = m.records
    assert r["status"] == "ok" and r["accel"] == "none (hardware)" and r["value"] > 0
'''


def test_pytest_plugin_runs_on_a_target(sshd, tmp_path):
    """`pytest --lab-target NAME --lab-hosts FILE`: the fixtures hand out the target's ports, no guest boots."""
    import sys
    (tmp_path / "test_on_target.py").write_text(PLUGIN_TEST.format(root=ROOT))
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", "/dev/null",
                        "--rootdir", str(tmp_path), str(tmp_path / "test_on_target.py"),
                        "--lab-target", "veth", "--lab-hosts", str(sshd.hosts())],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert p.returncode == 0 and "2 passed" in p.stdout, p.stdout[-3000:] + p.stderr[-2000:]
