"""`lab debug` (lab/debug.py): a run's cell in a virtme-ng guest."""
import subprocess

import pytest

from lab.runner import Run, RunOptions
from lab.workloads import load_testcase
from tests.support import LAB, ROOT

pytestmark = pytest.mark.vm  # the lab kernel is resolved (built if missing) even where nothing boots


def planned_run(tmp_path, **kw):
    """A run directory as `lab run` leaves it before its first boot (manifest, plan): cells never measured."""
    tc = load_testcase(ROOT / "testcases" / "tunnel.yaml")
    opts = RunOptions(kernels=["stock"], links=["virtio"], axes={"tunnel": ["vxlan"], "gso": ["off"]}, repeat=1,
                      duration=1, runs_root=str(tmp_path), **kw)
    return Run(tc, opts, say=lambda *_: None).rd


def test_print_shows_the_vng_command_with_the_runs_nics(tmp_path):
    rd = planned_run(tmp_path, backend="tap")
    p = subprocess.run(LAB + ["debug", str(rd.path), "--cell", "1", "--print", "--", "true"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].startswith("ip netns add dplab-") and lines[-1].startswith("ip netns del dplab-")
    vng = next(l for l in lines if " --run " in l)
    assert "mac=52:54:00:d1:00:0a" in vng and "mac=52:54:00:d1:00:0b" in vng and "virtio-net-pci" in vng
    assert f"--rwdir=/tmp/lab={rd.guest_dir.resolve()}" in vng and "sh /tmp/lab/debug/1/debug.sh && true" in vng
    assert (rd.guest_dir / "debug" / "1" / "setup.sh").read_text().count("type vxlan") == 2
    assert not (rd.guest_dir / "cells" / "1").exists()  # the lab's own cell dir is the run's, not the debugger's
    bad = subprocess.run(LAB + ["debug", str(rd.path), "--cell", "7", "--print"], cwd=ROOT, capture_output=True,
                         text=True)
    assert bad.returncode == 2 and "no cell 7; its cells are 1-1" in bad.stderr


def test_debug_boots_the_cell_with_vng_and_traffic_crosses_its_tunnel(tmp_path, host_secret):
    rd = planned_run(tmp_path)
    probe = ("ip netns exec virtio0a ip -d link show tun0; ip netns exec virtio0a cat /sys/class/net/eth0/address; "
             "ip netns exec virtio0b ethtool -i eth0; ip netns exec virtio0a ping -c 2 -W 5 198.19.0.2; "
             f"cat {host_secret} || echo secret-hidden; cat /proc/1/comm")
    p = subprocess.run(LAB + ["debug", str(rd.path), "--cell", "1", "--", probe], cwd=ROOT, capture_output=True,
                       text=True, timeout=300, stdin=subprocess.DEVNULL)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out[-3000:]
    assert "lab debug: cell 1 set up" in out and "vxlan id 42 remote 198.18.0.2" in out
    assert "52:54:00:d1:00:0a" in out and "driver: virtio_net" in out and "2 received" in out
    assert "dplab-host-secret" not in out and "secret-hidden" in out  # vng's 9p root is masked as the lab's is
    assert "virtme-ng-init" in out  # vng's own init, not the lab's agent
