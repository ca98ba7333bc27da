"""Faults in real runs: the lab keeps working, explains, and loses nothing."""
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from lab.errors import GuestError
from lab.results.rundir import RunDir
from tests.support import LAB, ROOT


def qemu_pids(run_id):
    out = subprocess.run(["pgrep", "-f", f"dplab-{run_id}"], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


@pytest.mark.vm
def test_kvm_present_but_broken_falls_back_to_tcg_quickly(default_kernel):
    from lab.vm.accel import kvm_usable_quick, probe_kvm
    if not kvm_usable_quick():
        pytest.skip("no /dev/kvm here")
    t0 = time.monotonic()
    ok, reason, secs = probe_kvm(default_kernel, timeout=5)  # the mechanism; the lab's own timeout is 12 s
    took = time.monotonic() - t0
    print(f"KVM probe: ok={ok} ({reason}) in {took:.1f}s")
    assert took <= 8
    if ok:
        pytest.skip("KVM works on this machine: nothing to fall back from")
    assert reason


@pytest.mark.vm
def test_hang_at_boot_times_out_with_console_and_qemu_gone(tmp_path, default_kernel):
    from lab.vm import VM, VMConfig
    rd = RunDir.create(tmp_path, "hang")
    t0 = time.monotonic()
    with pytest.raises(GuestError, match="timed out while booting") as e:
        with VM(default_kernel, rd, VMConfig(accel="tcg", backend="hub", boot_timeout=4, extra_qemu=["-S"])):
            pass
    assert time.monotonic() - t0 < 4 + 5  # the boot timeout, plus QEMU's stop and the teardown
    assert "--- console ---" in str(e.value)  # the (empty) tail is shown
    assert not qemu_pids(rd.id)


FAULTS = """name: faults
links: [virtio]
duration: 1
repeat: 1
axes:
  step: [ok1, flaky, warn, ok2]
parser: json
metric: {name: value, unit: x}
run: |
  case {{ params.step }} in
    flaky) if [ ! -e /tmp/flaky-once ]; then touch /tmp/flaky-once; echo "first attempt fails" >&2; exit 1; fi ;;
    warn) echo WARNING > /sys/kernel/debug/provoke-crash/DIRECT ;;
  esac
  echo '{"value": 1}'
"""


@pytest.mark.vm
def test_warn_fails_its_cell_with_a_fingerprint_flaky_cell_is_retried_others_go_on(tmp_path, accel):
    """A WARNING in one cell fails that cell (report + fingerprint); a cell failing once passes on retry,
    both attempts kept and marked; the other cells are measured."""
    from lab.runner import RunOptions, run_testcase
    from lab.workloads import load_testcase
    p = tmp_path / "faults.yaml"
    p.write_text(FAULTS)
    rd = run_testcase(load_testcase(p), RunOptions(kernels=["stock"], accel=accel, runs_root=str(tmp_path)), say=print)
    recs = rd.results()
    by = {}
    for r in recs:
        by.setdefault(r["params"]["step"], []).append(r)
    assert [r["status"] for r in by["ok1"]] == ["ok"] and [r["status"] for r in by["ok2"]] == ["ok"]
    flaky = [(r["status"], r.get("retried"), r.get("flaky")) for r in by["flaky"]]
    assert flaky == [("failed", True, None), ("ok", None, True)]
    warn = by["warn"][0]
    assert warn["status"] == "crash" and "lkdtm_WARNING" in warn["fingerprint"]
    assert "WARNING" in warn["error"]
    assert rd.manifest["status"] == "partial"


CELLS = 5


SLOW = f"""name: slow
links: [virtio]
duration: 1
repeat: {CELLS}
axes:
  n: [1]
parser: json
metric: {{name: value, unit: x}}
run: |
  sleep 1; echo '{{"value": 1}}'
"""


def _start_run(tmp_path, accel, *extra):
    p = tmp_path / "slow.yaml"
    p.write_text(SLOW)
    proc = subprocess.Popen(LAB + ["run", str(p), "--kernel", "stock", "--runs", str(tmp_path / "runs"), "--accel",
                                   accel, *extra],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        dirs = list((tmp_path / "runs").glob("*")) if (tmp_path / "runs").exists() else []
        if dirs and (dirs[0] / "results.jsonl").exists() and (dirs[0] / "results.jsonl").read_text().count("\n") >= 2:
            return proc, dirs[0]
        if proc.poll() is not None:
            raise AssertionError(proc.stdout.read())
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("no results within 240 s")


@pytest.mark.vm
def test_sigint_mid_matrix_keeps_results_and_resume_finishes_the_rest(tmp_path, accel):
    proc, rdir = _start_run(tmp_path, accel)
    run_id = rdir.name
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, out
    assert time.monotonic() - t0 < 30 and not qemu_pids(run_id)
    before = [r["cell"] for r in RunDir(rdir).results()]
    assert 2 <= len(before) < CELLS and RunDir(rdir).manifest["status"] == "interrupted"
    p = subprocess.run(LAB + ["run", "--resume", str(rdir)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    recs = RunDir(rdir).results()
    after = [r["cell"] for r in recs]
    assert sorted(after) == list(range(1, CELLS + 1)) and after[:len(before)] == before  # only the missing ones ran
    boots = [r["boot"] for r in recs]  # which boot measured each: the resume's guest numbered after the first's
    assert set(boots[:len(before)]) == {1} and set(boots[len(before):]) == {2}, boots


@pytest.mark.vm
def test_sigkill_then_resume_removes_the_stale_netns_repairs_a_torn_tail_and_refuses_a_second(tmp_path, accel):
    """Issue 26 row 9: a SIGKILLed run leaves its tap namespace and maybe half a record; --resume deletes the one
    and moves the other aside; a second --resume of the same dir while the first runs is refused, so no cell is
    measured twice."""
    proc, rdir = _start_run(tmp_path, accel)
    proc.kill()
    proc.wait()
    netns = f"dplab-{rdir.name[-20:]}"
    assert netns in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    with open(rdir / "results.jsonl", "a") as f:
        f.write('{"cell": 99, "sta')
    first = subprocess.Popen(LAB + ["run", "--resume", str(rdir)], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while not RunDir(rdir).manifest.get("resumed") and time.monotonic() < deadline:
        time.sleep(0.1)
    second = subprocess.run(LAB + ["run", "--resume", str(rdir)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    out, _ = first.communicate(timeout=300)
    assert second.returncode == 2 and "another lab process is running or resuming this run dir" in second.stderr
    assert first.returncode == 0, out
    cells = [r["cell"] for r in RunDir(rdir).results()]
    assert sorted(cells) == list(range(1, CELLS + 1)), cells  # each once; the torn half moved aside
    assert (rdir / "results.torn").read_text().startswith('{"cell": 99')
    assert netns not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


@pytest.mark.vm
def test_qemu_killed_mid_run_fails_that_cell_retries_it_and_the_run_goes_on(tmp_path, accel):
    proc, rdir = _start_run(tmp_path, accel)
    for pid in qemu_pids(rdir.name):
        os.kill(pid, signal.SIGKILL)
    try:
        out, _ = proc.communicate(timeout=400)
    finally:
        proc.kill()
    recs = RunDir(rdir).results()
    failed = [r for r in recs if r["status"] != "ok"]
    assert len(failed) == 1 and "QEMU exited" in failed[0]["error"] and failed[0]["retried"], out
    ok = [r for r in recs if r["status"] == "ok"]
    assert sorted(r["cell"] for r in ok) == list(range(1, CELLS + 1))  # the killed cell measured again on the next boot
    assert [r["flaky"] for r in ok if r["cell"] == failed[0]["cell"]] == [True]
    assert "booting again" in out and proc.returncode == 0  # every cell's last attempt is ok


@pytest.mark.vm
def test_two_runs_at_once_do_not_clash(tmp_path):
    procs = [subprocess.Popen(LAB + ["boot", "--kernel", "stock", "--runs", str(tmp_path), "--links", "virtio,e1000e",
                                     "--",
                                     "ip", "netns", "exec", "virtio0a", "ping", "-c", "2", "198.18.0.2"],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=400) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert " 0% packet loss" in out
    assert len(list(tmp_path.iterdir())) == 2


@pytest.mark.vm
def test_guest_cannot_write_to_the_host(booted, tmp_path):
    g = booted.guest
    marker = "dplab-guest-write-probe"
    r = g.run(["sh", "-c", f"echo x > /usr/local/{marker} && echo x > /etc/{marker} && echo overlay-ok; "
                           f"echo x > {ROOT}/{marker} 2>&1 || echo ro-ok"], check=False)
    assert "overlay-ok" in r.stdout  # writable inside the guest (throwaway overlay)...
    assert not Path(f"/usr/local/{marker}").exists() and not Path(f"/etc/{marker}").exists()  # ...not on the host
    assert not (ROOT / marker).exists()
    g.run(["sh", "-c", f"echo hello > /lab/{marker}"])
    assert (booted.rundir.guest_dir / marker).read_text() == "hello\n"  # only its run dir


@pytest.mark.vm
def test_guest_sees_an_allow_list_of_the_host_and_qemu_serves_nothing_else(booted, host_secret):
    """The guest's host view is /usr, /etc and the /bin, /lib links: root-only files elsewhere (/var/tmp, /root,
    /opt, the checkout, QEMU's own /proc) are absent; secrets inside /etc (shadow, SSH host keys) read empty; a
    kernel mounting the 9p export again gets the same view (it is built in QEMU's mount namespace); the tools
    the workloads use still run."""
    assert Path("/etc/shadow").read_text().startswith("root:")  # the host's is not empty: the checks can fail
    g = booted.guest
    keys = sorted(str(p) for p in Path("/etc/ssh").glob("ssh_host_*_key"))
    for p in ["/etc/shadow", "/etc/gshadow", *keys]:
        assert g.run(["cat", p]).stdout == "", p
    pid = booted.vm.proc.pid
    for p in (str(host_secret), f"/proc/{pid}/environ", str(ROOT / "README.md"), "/root/.bashrc", "/opt", "/srv"):
        assert g.run(["ls", "-d", p], check=False).rc != 0, p  # not there at all
    # what the 9p export itself serves, whatever a kernel asks of it: the view in QEMU's mount namespace
    fsdev = next(a for a in booted.rundir.manifest["qemu_argv"] if a.startswith("local,id=hostroot,"))
    view = fsdev.split("path=", 1)[1].split(",security_model")[0]
    served = subprocess.run(["nsenter", "--target", str(pid), "--mount", "sh", "-c", f"ls -A {view}; echo @@; "
                             f"cat {view}/etc/shadow; ls {view}{host_secret} {view}/proc/{pid}/environ 2>&1; true"],
                            capture_output=True, text=True, check=True).stdout
    listing, rest = served.split("@@")
    assert set(listing.split()) <= {"usr", "etc", "bin", "sbin", "lib", "lib32", "lib64", "libx32"} and "usr" in listing
    assert "root:" not in rest and rest.count("No such file or directory") == 2, rest
    assert "root:" in subprocess.run(["cat", "/etc/shadow"], capture_output=True, text=True).stdout  # host unchanged
    for tool in (["ip", "-V"], ["ethtool", "--version"], ["iperf3", "--version"], ["python3", "-V"],
                 ["perf", "--version"]):
        assert g.run(tool).rc == 0
    described = booted.rundir.manifest["guest_view"]
    assert "/usr" in described["shared"] and "/etc/shadow" in described["masked"] and "/root" not in described["shared"]
