"""Hosts files (lab/remote/hosts.py): values that reach a shell are validated."""
import pytest

from lab.errors import ConfigError


@pytest.mark.parametrize("key,value,msg", [
    ("ports", "{a: 'eth0; touch /tmp/x', b: eth1}", "not an interface name"),
    ("ports", "{a: '../x', b: eth1}", "not an interface name"),
    ("python", "'python3; reboot'", "a path of letters"),
])
def test_hosts_file_values_that_would_reach_a_shell_are_refused(tmp_path, key, value, msg):
    from lab.remote.hosts import load_hosts
    for f in ("k", "kh"):
        (tmp_path / f).write_text("")
    entry = {"ports": "{a: eth0, b: eth1}", "python": "python3"}
    entry[key] = value
    (tmp_path / "h.yaml").write_text(f"targets:\n  t:\n    kind: hardware\n    ssh: ssh://root@192.0.2.1\n    key: k\n"
                                     f"    known_hosts: kh\n    ports: {entry['ports']}\n    python: "
                                     f"{entry['python']}\n")
    with pytest.raises(ConfigError, match=msg):
        load_hosts(tmp_path / "h.yaml")


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
