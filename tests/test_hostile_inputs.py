"""Hostile inputs without a guest (issue 26): a planted link, a patch, a target's names, a damaged run dir, a bad
number. Each test names the row it guards; the real-guest and real-sshd halves are in test_hostile_guest.py,
test_remote.py and test_dual.py."""
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from lab.errors import ConfigError, LabError
from lab.results import untrusted
from lab.results.rundir import RunDir, load_results

ROOT = Path(__file__).resolve().parent.parent
LAB = [sys.executable, "-m", "lab.cli"]


def victim(tmp_path, name="victim", text="host file\n"):
    p = tmp_path / name
    p.write_text(text)
    p.chmod(0o640)
    return p, p.stat().st_ino


def unchanged(p, ino, text="host file\n"):
    st = os.lstat(p)
    return stat.S_ISREG(st.st_mode) and st.st_ino == ino and p.read_text() == text and stat.S_IMODE(st.st_mode) == 0o640


# -- row 1: what the guest can write is read and written without following links --------------------------------

def test_a_planted_link_is_neither_read_nor_written_through(tmp_path):
    v, ino = victim(tmp_path)
    tree = tmp_path / "guest"
    (tree / "cells" / "1").mkdir(parents=True)
    (tree / "cells" / "1" / "perf.csv").symlink_to(v)
    with pytest.raises(untrusted.UnsafePath, match="not a plain file"):
        untrusted.read_text(tree, "cells/1/perf.csv")
    (tree / "cells" / "2").symlink_to(tmp_path)  # a directory link on the way
    with pytest.raises(untrusted.UnsafePath, match="'2' is not a directory of the tree"):
        untrusted.read_text(tree, "cells/2/victim")
    untrusted.write_text(tree, "cells/1/perf.csv", "new\n")  # replaces the link itself
    assert unchanged(v, ino) and (tree / "cells/1/perf.csv").read_text() == "new\n"
    assert not (tree / "cells/1/perf.csv").is_symlink()
    for bad in ("../victim", "/etc/passwd", "cells/../../victim", ""):
        with pytest.raises(untrusted.UnsafePath):
            untrusted.write_text(tree, bad, "x")
    (tree / "big").write_bytes(b"x" * 2048)
    with pytest.raises(LabError, match="larger than 1024 bytes"):
        untrusted.read_bytes(tree, "big", limit=1024)


def test_staging_a_guest_dir_never_writes_through_what_an_earlier_guest_planted(tmp_path):
    from lab.guest import AGENT_FILES
    from lab.vm.links import make_links
    from lab.vm.qemu import stage_guest_dir
    v, ino = victim(tmp_path)
    vdir = tmp_path / "victim-dir"
    vdir.mkdir()
    g = tmp_path / "guest"
    g.mkdir()
    (g / AGENT_FILES[0]).symlink_to(v)
    (g / "links.sh").symlink_to(v)
    (g / "bin").symlink_to(vdir)
    with pytest.raises(untrusted.UnsafePath, match="'bin' is not a directory"):
        stage_guest_dir(g, make_links(["virtio"]))
    assert unchanged(v, ino) and list(vdir.iterdir()) == []
    (g / "bin").unlink()
    stage_guest_dir(g, make_links(["virtio"]))
    assert unchanged(v, ino) and not (g / AGENT_FILES[0]).is_symlink()
    assert "dplab link wiring" in (g / "links.sh").read_text()


# -- row 5: patch paths are checked before anything is touched ---------------------------------------------------

def _patch(tmp_path, target):
    p = tmp_path / "evil.patch"
    p.write_text(f"Subject: evil\n---\n--- a/{target}\n+++ b/{target}\n@@ -1 +1 @@\n-host file\n+owned\n")
    return p


@pytest.mark.parametrize("path,why", [("../victim", "leaves the tree"), ("x/../../victim", "leaves the tree")])
def test_a_patch_climbing_out_of_the_tree_is_refused_before_anything_is_touched(tmp_path, path, why):
    from lab.kernel.patches import apply_patch
    v, ino = victim(tmp_path)
    tree = tmp_path / "tree"
    tree.mkdir()
    with pytest.raises(ConfigError, match=rf"evil.patch:3: path .* {why}"):
        apply_patch(tree, _patch(tmp_path, path))
    assert unchanged(v, ino)


def test_a_patch_with_an_absolute_path_or_through_a_link_is_refused(tmp_path):
    from lab.kernel.patches import apply_patch, check_paths
    v, ino = victim(tmp_path)
    tree = tmp_path / "tree"
    (tree / "drivers").mkdir(parents=True)
    (tree / "drivers" / "net").symlink_to(tmp_path)  # a link in the tree: patch would write where it points
    p = tmp_path / "abs.patch"
    p.write_text(f"--- {v}\n+++ {v}\n@@ -1 +1 @@\n-host file\n+owned\n")
    with pytest.raises(ConfigError, match=r"abs.patch:1: path .* is absolute"):
        apply_patch(tree, p)
    with pytest.raises(ConfigError, match=r"goes through the link drivers/net"):
        check_paths(tree, _patch(tmp_path, "drivers/net/victim"))
    assert unchanged(v, ino)
    ok = tmp_path / "ok.patch"  # a hunk's own '--- x' line (a removed '-- x') is content, not a path
    ok.write_text("--- a/f.c\n+++ b/f.c\n@@ -1,2 +1,2 @@\n--- a comment\n+++ b comment\n x\n")
    check_paths(tree, ok)


# -- row 6: names and values from a target or a hosts file --------------------------------------------------------

class FakeSftp:
    def __init__(self, entries):
        self.entries = entries

    def listdir_attr(self, path):
        return self.entries

    def open(self, path, mode):
        import io
        return io.BytesIO(b"data")


def _attr(name, mode=stat.S_IFREG | 0o644, size=4):
    a = type("A", (), {})()
    a.filename, a.st_mode, a.st_size = name, mode, size
    return a


@pytest.mark.parametrize("name", ["..", "a/../../x", "/etc/passwd"])
def test_names_coming_back_from_a_target_stay_inside_the_run_dir(tmp_path, name):
    from lab.remote.ssh import get_tree
    with pytest.raises(untrusted.UnsafePath, match="refusing it"):
        get_tree(FakeSftp([_attr(name)]), "/r", tmp_path / "cell")
    get_tree(FakeSftp([_attr("ok"), _attr("lnk", stat.S_IFLNK | 0o777)]), "/r", tmp_path / "cell2")
    assert sorted(p.name for p in (tmp_path / "cell2").iterdir()) == ["ok"]  # a link from the target: skipped


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


def test_remote_lab_sends_tracked_files_only_with_their_modes_and_never_a_key(tmp_path):
    import gzip
    import io
    import tarfile

    from lab.remote.lab import checkout_tar
    repo = tmp_path / "co"
    (repo / "hosts" / "keys").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "run.sh").write_text("#!/bin/sh\n")
    (repo / "run.sh").chmod(0o750)
    (repo / "secret.txt").write_text("private\n")
    (repo / "secret.txt").chmod(0o600)
    (repo / "hosts" / "keys" / "id").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nx\n")  # untracked
    subprocess.run(["git", "-C", str(repo), "add", "run.sh", "secret.txt"], check=True)
    _, tgz = checkout_tar(repo)
    members = {m.name: m.mode for m in tarfile.open(fileobj=io.BytesIO(gzip.decompress(tgz)))}
    assert members == {"run.sh": 0o750, "secret.txt": 0o600}
    subprocess.run(["git", "-C", str(repo), "add", "-f", "hosts/keys/id"], check=True)  # tracked by mistake
    with pytest.raises(ConfigError, match="holds a private key"):
        checkout_tar(repo)


# -- row 9: records survive tearing, failed writes and a second process -------------------------------------------

def test_an_append_after_a_torn_line_starts_a_line_of_its_own(tmp_path):
    rd = RunDir.create(tmp_path, "t")
    rd.append_result({"cell": 1, "status": "ok", "value": 1.0})
    with open(rd.path / "results.jsonl", "a") as f:
        f.write('{"cell": 2, "status": "o')  # a crash mid-write (or a full disk)
    rd.append_result({"cell": 2, "status": "ok", "value": 2.0})
    rd.append_result({"cell": 3, "status": "ok", "value": 3.0})
    assert [r["cell"] for r in load_results(rd.path)] == [1, 2, 3]
    assert (rd.path / "results.torn").read_text() == '{"cell": 2, "status": "o\n'  # nothing lost


def test_a_failed_append_is_truncated_back_and_a_run_dir_is_held_by_one_process(tmp_path, monkeypatch):
    rd = RunDir.create(tmp_path, "t")
    rd.append_result({"cell": 1, "status": "ok", "value": 1.0})
    size = (rd.path / "results.jsonl").stat().st_size
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(28, "No space left on device")))
    with pytest.raises(LabError, match="No space left on device; earlier results are intact"):
        rd.append_result({"cell": 2, "status": "ok", "value": 2.0})
    monkeypatch.undo()
    assert (rd.path / "results.jsonl").stat().st_size == size
    rd.lock()
    out = subprocess.run([sys.executable, "-c", "from lab.results.rundir import RunDir; "
                                                f"RunDir({str(rd.path)!r}).lock()"],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode != 0 and "another lab process is running or resuming this run dir" in out.stderr


def test_non_finite_numbers_never_reach_a_record(tmp_path):
    from lab.measure import parse_value
    from lab.workloads import load_testcase
    rd = RunDir.create(tmp_path, "t")
    rd.append_result({"cell": 1, "status": "ok", "value": 1.0, "extra": {"x": float("nan"), "y": [float("inf")]}})
    [r] = load_results(rd.path)  # strict JSON: no NaN token
    assert r["extra"] == {"x": None, "y": [None]}
    tc = load_testcase(ROOT / "testcases/udpgso.yaml")  # parser json
    for out in ('{"value": NaN}', '{"value": "fast"}', '{"value": Infinity}', "[1, 2]"):
        with pytest.raises(LabError, match="parser json"):
            parse_value(tc, out)


# -- row 10: verdicts that cannot be silently wrong ---------------------------------------------------------------

def _rec(kernel, value, cell, unit="Gbit/s", counters=None, run="r"):
    return {"run_id": run, "cell": cell, "testcase": "t", "kernel": {"name": kernel}, "link": "virtio0",
            "nic_model": "virtio", "params": {}, "status": "ok", "value": value, "metric": "throughput", "unit": unit,
            "higher_is_better": True, "mode": "wallclock", "counters": counters or {}, "derived": {"tx_packets": 1000}}


def test_counters_from_zero_move_units_never_pair_and_nan_is_left_out():
    from lab.results.compare import compare
    a = [_rec("A", 1.0 + i / 100, i, counters={"b.link.rx_errors": 0, "a.link.tx_packets": 1000}) for i in range(3)]
    b = [_rec("B", 1.0 + i / 100, 10 + i, counters={"b.link.rx_errors": 40,
                                                    "a.link.tx_packets": 1000}) for i in range(3)]
    [p] = compare(a + b + [_rec("B", float("nan"), 20)], by="kernel")
    assert p.result.b.n == 3  # the NaN record is not a sample
    [(name, c)] = p.counters
    assert "rx_errors" in name and c.verdict == "new" and c.b.median > 0
    mbit = [_rec("B", 1000.0 + i, 30 + i, unit="Mbit/s") for i in range(3)]
    assert compare(a + mbit, by="kernel") == []  # Gbit/s beside Mbit/s is no -99.9 % regression


def test_the_interval_of_a_relative_change_never_crosses_minus_100():
    from lab.results.stats import welch
    # the report's TCP segments per packet: -97.6 %, with a spread that made the linear interval reach -105.7 %
    c = welch([1.00, 1.10, 0.95], [0.030, 0.022, 0.019], higher_is_better=False)
    assert -100 < c.ci_low_pct < c.change_pct < c.ci_high_pct < 0 and c.verdict == "faster"
    assert c.method == "welch-t log ratio"


def _night(tmp_path, name, status="ok", planned=2, values=(1.0, 1.0), mode="deterministic"):
    rd = RunDir.create(tmp_path / name, "t")
    rd.update_manifest(status=status, mode=mode, testcase={"path": "testcases/t.yaml", "name": "t", "planned": planned})
    for i, v in enumerate(values):
        r = _rec("stock", v, i + 1, run=rd.id)
        r.update(mode=mode, repeat_index=i)
        rd.append_result(r)
    return rd


def test_the_gate_fails_a_night_that_cannot_be_judged_whole(tmp_path):
    from lab.gate import gate
    prev = _night(tmp_path, "prev")
    ok = _night(tmp_path, "ok")
    runs = lambda *rds: [(str(r.path), r.manifest) for r in rds]
    assert gate(ok.results(), prev.results(), runs=runs(ok)).ok
    for night, why in ((_night(tmp_path, "boot", status="failed", values=()), "FAIL run .*: failed"),
                       (_night(tmp_path, "kill", status="interrupted", values=(1.0,)), "1 of 2 planned cells"),
                       (_night(tmp_path, "short", values=(1.0,)), "missing tonight .*repeat 1")):
        res = gate(night.results(), prev.results(), runs=runs(night))
        assert not res.ok and any(__import__("re").search(why, l) for l in res.regressions), res.regressions
    res = gate([], prev.results(), runs_log=[("testcases/t.yaml", "wallclock", 2)])
    assert not res.ok and any("testcases/t.yaml (wallclock) exited with status 2: no run dir" in l
                              for l in res.regressions)
    one = _night(tmp_path, "one", values=(1.0,), planned=1)
    res = gate(one.results(), _night(tmp_path, "p1", values=(1.1,), planned=1).results(), runs=runs(one))
    assert res.ok and any(l.startswith("insufficient data vs previous") for l in res.lines)


def test_lab_gate_reads_the_nightly_runs_log(tmp_path):
    night = _night(tmp_path, "n")
    (tmp_path / "lab-runs.tsv").write_text("testcases/t.yaml\tdeterministic\t0\ntestcases/x.yaml\twallclock\t1\n")
    p = subprocess.run(LAB + ["gate", str(night.path), "--runs-log", str(tmp_path / "lab-runs.tsv")],
                       capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 1
    assert "FAIL lab run testcases/x.yaml (wallclock) exited with status 1: no run dir" in p.stdout


# -- row 11: every bad input is `lab: error:` naming what is wrong ------------------------------------------------

@pytest.mark.parametrize("argv,msg", [
    (["run", "testcases/throughput.yaml", "--repeat", "0"], "--repeat: 0 is out of range 1..1000"),
    (["run", "testcases/throughput.yaml", "--repeat", "-1"], "--repeat: -1 is out of range"),
    (["run", "testcases/throughput.yaml", "--repeat", "100000000"], "--repeat: 100000000 is out of range"),
    (["run", "testcases/throughput.yaml", "--repeat", "1e8"], "--repeat: '1e8' is not an integer"),
    (["run", "testcases/throughput.yaml", "--duration", "0"], "--duration: 0 is out of range"),
    (["run", "testcases/throughput.yaml", "--duration", "nan"], "--duration: nan is not a finite number"),
    (["run", "testcases/throughput.yaml", "--rounds", "0"], "--rounds: 0 is out of range"),
    (["run", "testcases/throughput.yaml", "--boot-timeout", "-1"], "--boot-timeout: -1 is out of range"),
    (["run", "testcases/throughput.yaml", "--memory", "2G,x=y"], "--memory: '2G,x=y' is not of the form N"),
    (["compare", "--confidence", "2", "runs/x"], "--confidence: 2 is out of range"),
    (["compare", "--confidence", "0", "runs/x"], "--confidence: 0 is out of range"),
    (["build", "--name", "../x"], "--name '../x': a build name is"),
])
def test_bad_options_are_named(argv, msg):
    p = subprocess.run(LAB + argv, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 2 and msg in p.stderr and "Traceback" not in p.stderr, p.stderr[-500:]


def _tc(tmp_path, extra="", name="t", duration="1"):
    f = tmp_path / "t.yaml"
    f.write_text(f"name: {name}\nduration: {duration}\nrun: |\n  echo '{{\"value\": 1}}'\nparser: json\n"
                 f"metric: {{name: x, unit: u}}\n{extra}")
    return f


@pytest.mark.parametrize("kw,msg", [
    ({"name": "a/b"}, "name: 'a/b': 1-64 of letters"),
    ({"duration": ".nan"}, "duration: nan is not a finite number"),
    ({"extra": "loss: {accounted_by: b.snmp.UdpRcvbufErrors}\n"}, "loss.accounted_by: expected list"),
])
def test_bad_testcase_values_are_named(tmp_path, kw, msg):
    from lab.workloads import load_testcase
    with pytest.raises(ConfigError, match=msg):
        load_testcase(_tc(tmp_path, **kw))


def test_damaged_inputs_are_errors_naming_the_file(tmp_path):
    (tmp_path / "bin.yaml").write_bytes(b"name: t\n\xff\xfe\n")
    rd = RunDir.create(tmp_path, "t")
    (rd.path / "manifest.json").write_text('{"options": ')
    rd2 = RunDir.create(tmp_path, "u")
    (rd2.path / "results.jsonl").write_text('{"cell": 1}\n[1, 2]\n{"cell": 3}\n')
    frag = tmp_path / "f.config"
    for args, msg in ((["run", str(tmp_path / "bin.yaml")], "bin.yaml: not UTF-8 text"),
                      (["run", "--resume", str(rd.path)], "manifest.json: damaged"),
                      (["report", str(rd2.path)], "results.jsonl:2: a JSON list without a cell")):
        p = subprocess.run(LAB + args, capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert p.returncode in (1, 2) and msg in p.stderr and "Traceback" not in p.stderr, p.stderr[-800:]
    from lab.kernel.config import requested
    for line, msg in (("XDP_SOCKETS=y", "not CONFIG_NAME=value"), ("CONFIG_X = y", "not CONFIG_NAME=value"),
                      ("CONFIG_X=y # why", "a trailing comment")):
        frag.write_text(f"# ok\nCONFIG_NET=y\n{line}\n")
        with pytest.raises(ConfigError, match=rf"f.config:3: .*{msg}"):
            requested([frag])


def test_qemu_option_values_are_escaped_and_qemus_own_error_is_quoted(tmp_path):
    from lab.kernel.image import Kernel
    from lab.vm.qemu import VM, VMConfig, qemu_value
    assert qemu_value("/runs/a,b") == "/runs/a,,b"
    with pytest.raises(LabError, match="control character"):
        qemu_value("a\nb")
    img = tmp_path / "bzImage"
    img.write_bytes(b"\0" * 0x300)
    runs = tmp_path / "runs,evil=1"
    rd = RunDir.create(runs, "t")
    vm = VM(Kernel(name="fake", image=img, release="6.1.0-test"), rd,
            VMConfig(accel="tcg", boot_timeout=20, extra_qemu=["-no-such-option"]), say=lambda *_: None)
    assert f"path={str(rd.guest_dir).replace(',', ',,')},security_model=" in " ".join(vm.argv(tmp_path / "i",
                                                                                              tmp_path / "s"))
    with pytest.raises(LabError, match=r"(?s)QEMU exited .*it said:.*no-such-option"):
        with vm:
            pass


def test_templates_are_rendered_for_every_cell_before_any_boot(tmp_path):
    import struct

    from lab.runner import Run, RunOptions
    from lab.workloads import load_testcase
    data = bytearray(0x400)  # a bzImage's setup header (the kernel is never booted)
    data[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", data, 0x20E, 0x100)
    data[0x300:0x310] = b"6.1.0-fake #1\0\0\0"
    img = tmp_path / "bzImage"
    img.write_bytes(bytes(data))
    tc = load_testcase(_tc(tmp_path, extra="links: [virtio]\naxes: {n: [1, 2]}\nsetup: \"{{ params.nope.deeper }}\"\n"))
    with pytest.raises(ConfigError, match="t.yaml:setup: template error"):
        Run(tc, RunOptions(kernels=[str(img)], accel="tcg", runs_root=str(tmp_path / "runs")), say=lambda *_: None)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())  # nothing booted, no run dir


def test_prune_skips_a_key_being_built_and_a_damaged_cache_entry_is_no_hit(tmp_path, monkeypatch):
    monkeypatch.setenv("DPLAB_CACHE", str(tmp_path / "cache"))
    from lab.kernel import store
    for key in ("aaaa", "bbbb"):
        d = store.builds_root() / key
        d.mkdir(parents=True)
        (d / "bzImage").write_bytes(b"k" * 100)
        from lab.hashing import file_sha256
        (d / "build.json").write_text(json.dumps({"bzImage_sha256": file_sha256(d / "bzImage")}))
    with store.key_lock("aaaa"):
        removed = store.prune(say=lambda *_: None)
    assert [Path(p).name for p in removed] == ["bbbb"] and (store.builds_root() / "aaaa").exists()
    art = store.builds_root() / "aaaa"
    assert store.damaged(art) is None
    with open(art / "bzImage", "r+b") as f:
        f.truncate(50)
    assert "sha256 differs" in store.damaged(art)
