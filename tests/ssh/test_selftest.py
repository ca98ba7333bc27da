"""lab selftest on a hardware target (lab/selftest/places.py): the kernel's driver tests on host A's port, side b
on host B as their remote over ssh (REMOTE_TYPE=ssh through the lab's relay: remote/shim/ssh, scp)."""
import json

from tests.support.sshd import MARKS

pytestmark = MARKS  # slow, root, openssh-server


def test_driver_tests_run_on_the_hosts_port_with_side_b_over_ssh(two_hosts, tmp_path):
    from lab.selftest import run_selftests
    rd = run_selftests(None, "drivers/net:ping.py", source="debian:6.12", runs_root=str(tmp_path / "runs"),
                       target="pair", hosts=str(two_hosts), say=print)
    m = json.loads((rd.path / "manifest.json").read_text())
    assert m["place"] == "hardware" and m["jobs"] == 1 and m["target"] == "pair"
    assert m["test_env"]["env"]["REMOTE_TYPE"] == "ssh" and m["test_env"]["env"]["REMOTE_ARGS"] == "dplab-b"
    [rec] = rd.results()
    assert rec["status"] == "pass", rec
    subs = {s["name"]: s["status"] for s in rec["subtests"]}
    assert subs == {"ping.test_v4": "pass", "ping.test_v6": "pass", "ping.test_tcp": "pass"}, subs
    cmds = [json.loads(l) for l in (rd.path / "guest-commands.jsonl").read_text().splitlines()]
    on_b = [" ".join(c["argv"]) for c in cmds if c.get("host") == "b"]
    # the tests' own remote commands ran on B, in side b's namespace: ping back to A, a socat listener
    assert any("ping -c 1" in c and "port0b" in c for c in on_b), on_b
    assert any("socat" in c and "TCP-LISTEN" in c for c in on_b), on_b


def test_on_a_one_host_target_the_remote_is_port_bs_namespace(sshd, tmp_path):
    from lab.selftest import run_selftests
    rd = run_selftests(None, "drivers/net:ping.py", source="debian:6.12", runs_root=str(tmp_path / "runs"),
                       target="veth", hosts=str(sshd.hosts()), say=print)
    m = json.loads((rd.path / "manifest.json").read_text())
    assert m["test_env"]["env"]["REMOTE_TYPE"] == "netns" and m["test_env"]["env"]["REMOTE_ARGS"] == "port0b"
    assert m["host_b"] is None and m["tcg_factor"] == 1.0 and m["test_timeout"]["scaled"] == 45  # the target's own
    [rec] = rd.results()
    assert rec["status"] == "pass" and len(rec["subtests"]) == 3, rec
