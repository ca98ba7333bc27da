"""Where lab selftest runs (lab/selftest/places.py): guests here or a hardware target's host, chosen once; what a
place refuses before anything connects. A real host (two sshds, side b over ssh): tests/ssh/test_selftest.py."""
import pytest

from lab.errors import ConfigError


def hosts_file(tmp_path):
    for f in ("k", "kh"):
        (tmp_path / f).write_text("")
    (tmp_path / "h.yaml").write_text(
        "targets:\n  bench1:\n    kind: hardware\n    ssh: ssh://root@192.0.2.1\n    key: k\n    known_hosts: kh\n"
        "    ports: {a: eth1, b: eth2}\n  kvm1:\n    kind: remote-lab\n    ssh: ssh://root@192.0.2.2\n    key: k\n"
        "    known_hosts: kh\n")
    return tmp_path / "h.yaml"


def test_a_target_runs_its_own_kernel_and_only_a_hardware_target_runs_selftests(tmp_path):
    from lab.selftest.places import place_for
    h = hosts_file(tmp_path)
    with pytest.raises(ConfigError, match=r"--target bench1: the host runs its own kernel \(no --kernel\)"):
        place_for("stock", "bench1", h)
    with pytest.raises(ConfigError, match=r"kvm1: a remote-lab target \(.*h.yaml:8: targets.kvm1\); selftests run"):
        place_for(None, "kvm1", h)
    with pytest.raises(ConfigError, match=r"no target 'nope'; targets: bench1, kvm1"):
        place_for(None, "nope", h)


def test_guests_here_are_many_a_host_is_one():
    from lab.selftest.places import InGuests, OnHost
    assert InGuests.jobs(None, 4) == 4 and OnHost.jobs(None, 4) == 1
    assert (InGuests.remote, InGuests.root) == ("netns", "/lab/kselftest")
