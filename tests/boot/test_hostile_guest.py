"""Hostile inputs with a real guest: planted links and setuid files, a silently lossy datapath."""
import json
import os
import stat
import subprocess

import pytest

from tests.support import LAB, ROOT, SUPPORT

DROP = SUPPORT / "data" / "patches" / "virtio-silent-drop"


@pytest.mark.vm
def test_what_a_guest_makes_in_its_run_dir_means_nothing_on_the_host(booted, tmp_path):
    """Row 2 (and 1): a setuid-root copy of `id`, a device node and a link to a host file, made by the guest in /lab,
    are plain files of mode 0600 on the host (QEMU's mapped security model): nothing runs as root, nothing opens
    a device, nothing follows the link."""
    v = tmp_path / "host-file"
    v.write_text("host file\n")
    booted.guest.sh(f"cp /usr/bin/id /lab/x && chmod 4755 /lab/x && ls -l /lab/x; mknod /lab/null c 1 3; "
                    f"ln -s {v} /lab/link; mkdir -p /lab/d && chmod 6777 /lab/d; echo guest-view: $(stat -c %a /lab/x)")
    g = booted.rundir.guest_dir
    x, null, link, d = (os.lstat(g / n) for n in ("x", "null", "link", "d"))
    assert stat.S_ISREG(x.st_mode) and not x.st_mode & (stat.S_ISUID | stat.S_ISGID), oct(x.st_mode)
    assert stat.S_IMODE(x.st_mode) & 0o077 == 0  # and closed to other host users
    assert stat.S_ISREG(null.st_mode) and stat.S_ISREG(link.st_mode)  # no device, no link on the host
    assert not d.st_mode & (stat.S_ISUID | stat.S_ISGID)
    assert v.read_text() == "host file\n"
    out = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", str(g / "x")],
                         capture_output=True, text=True)
    assert "euid=0" not in out.stdout  # run as nobody it is no door to root (it does not even run)
    # the guest itself still sees what it made (the metadata lives in xattrs)
    assert booted.guest.sh("stat -c %a /lab/x; readlink /lab/link").stdout.split() == ["4755", str(v)]


@pytest.mark.vm
def test_a_testcase_aiming_the_labs_writes_at_host_files_changes_nothing(tmp_path):
    """Row 1: setup links the cell's files (run.stdout, setup.sh; in cell 2 perf.csv too) and the staged agent to
    host files: every host file stays as it was, the run's own files are where the host put them (outside
    guest/), and cell 2, whose perf output the guest broke, fails as its own failure while the run goes on."""
    victims = {n: tmp_path / n for n in ("stdout", "perf", "script", "agent")}
    for p in victims.values():
        p.write_text("host file\n")
    tc = tmp_path / "hostile.yaml"
    tc.write_text(f"""name: hostile
links: [virtio]
duration: 1
axes: {{n: [1, 2]}}
parser: json
metric: {{name: x, unit: u}}
setup: |
  ln -sf {victims['stdout']} {{{{ cell_dir }}}}/run.stdout
  {{% if params.n == 2 %}}ln -sf {victims['perf']} {{{{ cell_dir }}}}/perf.csv{{% endif %}}
  ln -sf {victims['script']} {{{{ cell_dir }}}}/setup.sh
  ln -sf {victims['agent']} /lab/agent.py.new && mv /lab/agent.py.new /lab/agent.py
  mkdir -p /lab/kallsyms && ln -sf {victims['agent']} /lab/kallsyms/stock.txt
run: |
  echo '{{"value": 1}}'
""")
    p = subprocess.run(LAB + ["run", str(tc), "--kernel", "stock", "--repeat", "1", "--runs", str(tmp_path / "runs")],
                       capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert all(v.read_text() == "host file\n" for v in victims.values()), p.stdout[-2000:]
    [rd] = (tmp_path / "runs").iterdir()
    recs = [json.loads(l) for l in (rd / "results.jsonl").read_text().splitlines()]
    assert [r["status"] for r in recs] == ["ok", "failed", "failed"], p.stdout[-1500:]
    assert "perf stat" in recs[-1]["error"]  # the guest's perf could not write through its own link
    assert (rd / "cells" / "1" / "run.stdout").read_text() == '{"value": 1}\n'  # the host's copy, outside guest/
    assert not (rd / "cells" / "1" / "run.stdout").is_symlink()


@pytest.mark.vm
@pytest.mark.build
def test_a_datapath_that_silently_loses_packets_fails_its_cell(tmp_path):
    """Row 7: a virtio_net that frees every 16th large frame and reports it sent (tests/support/data/patches). iperf3's
    receiver and the UDP GSO sink count what vanished; the declared counters (socket buffer overflows, the host
    tap's drops) do not account for it, so the cell fails with the counts; the stock kernel's same cells pass,
    their losses (if any) accounted. The gate fails the night."""
    from lab.kernel.build import BuildRequest, build
    build(BuildRequest(patches=str(DROP), name="virtio-silent-drop"), say=print)  # seeded from stock: ~30 s
    runs = tmp_path / "runs"
    for t, axes in (("throughput", ["protocol=udp"]), ("udpgso", ["ip=4", "gso=off"])):
        p = subprocess.run(LAB + ["run", f"testcases/{t}.yaml", "--kernel", "stock", "--kernel", "virtio-silent-drop",
                                  "--links", "virtio", "--rounds", "1", "--repeat", "1", "--duration", "2", "--runs",
                                  str(runs / t), *[x for a in axes for x in ("--axis", a)]],
                           capture_output=True, text=True, cwd=ROOT, timeout=900)
        assert p.returncode == 1, p.stdout[-2000:] + p.stderr[-1000:]
        [rd] = (runs / t).iterdir()
        recs = {r["kernel"]["name"]: r for r in map(json.loads, (rd / "results.jsonl").read_text().splitlines())}
        lossy, stock = recs["virtio-silent-drop"], recs["stock"]
        assert stock["status"] == "ok", stock.get("error")
        assert lossy["status"] == "failed" and "packets lost:" in lossy["error"]
        assert "vanished on the lab's link" in lossy["error"]
        d = lossy["delivery"]
        assert d["lost"] >= d["sent"] / 32, d  # about 1 in 16 of the data frames
        gate = subprocess.run(LAB + ["gate", str(rd)], capture_output=True, text=True, cwd=ROOT)
        assert gate.returncode == 1 and "packets lost" in gate.stdout and "gate: FAIL" in gate.stdout
