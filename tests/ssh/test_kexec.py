"""kexec on a stand-in host (tests/support/vmhost.py: a guest with sshd), for real."""
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab.remote.kexec import token
from tests.support import ROOT

PLUGIN_TEST = '''
def test_the_ports_are_on_the_kernel_under_test(lab_vm, lab_kernel):
    assert lab_vm.run(["uname", "-r"]).stdout.strip() == lab_kernel.release
    assert "dplab.kernel=" + lab_kernel.sha256[:16] in lab_vm.run(["cat", "/proc/cmdline"]).stdout.split()


def test_a_testcase_on_the_kernel_under_test(lab_measure, lab_kernel):
    m = lab_measure("{root}/testcases/throughput.yaml", duration=1, axes={{"protocol": ["tcp"]}})
    [r] = m.records
    assert r["status"] == "ok" and r["kernel"]["sha256"] == lab_kernel.sha256 and r["value"] > 0
'''


def host_facts_of(target):
    from lab.remote.kexec import _session, host_facts
    return _session(target, host_facts)


@pytest.mark.vm
@pytest.mark.slow
@pytest.mark.skipif(not (Path("/usr/sbin/kexec").exists() and Path("/usr/sbin/sshd").exists()),
                    reason="needs kexec-tools and openssh-server (make setup), run inside the stand-in host")
def test_kexec_into_the_kernel_under_test_and_hosts_that_cannot_or_do_not_come_back(tmp_path, default_kernel):
    """A real kexec on the stand-in host: the cell runs on the kernel under test (a new boot, its release, the
    token), the same kernel again boots nothing, a kexec -l failure fails the cells and leaves the host as it was,
    a kernel that panics fails its cells when its serial log shows the panic (not at the timeout), the rest at
    once."""
    from lab.remote.hosts import get_target
    from lab.runner import RunOptions, run_testcase
    from lab.workloads import load_testcase
    from tests.support.vmhost import VmHost
    host = VmHost(tmp_path / "h1", default_kernel).start()
    try:
        hosts = host.hosts(timeout=90)
        first = host_facts_of(get_target(hosts, "vmhost"))
        assert token(default_kernel) not in first["cmdline"]
        opts = dict(target="vmhost", hosts=str(hosts), kernels=[default_kernel.spec()], axes={"protocol": ["tcp"]},
                    repeat=1, duration=1)

        def run(name, **kw):
            tc = load_testcase(ROOT / "testcases/throughput.yaml")
            return run_testcase(tc, RunOptions(**{**opts, **kw}, runs_root=str(tmp_path / name)), say=print)

        rd = run("first")
        [b] = rd.manifest["kexec"]
        assert not b["skipped"] and b["boot_id"] != first["boot_id"] and b["release"] == default_kernel.release
        assert b["sha256"] == default_kernel.sha256 and token(default_kernel) in b["cmdline"].split()
        assert b["seconds"] > 0
        [r] = rd.results()
        assert r["status"] == "ok" and r["value"] > 0 and r["kernel"]["sha256"] == default_kernel.sha256, r.get("error")
        assert r["counters"]["a.link.tx_bytes"] > 0.9 * r["extra"]["bytes"]
        assert r["nic_model"] == "virtio"  # its ports' driver is virtio_net: the lab's model, its `when:` rules apply
        assert host.serial.read_text().count("vmhost: sshd at") == 2  # QEMU's boot, then the kexec

        rd = run("again")
        [b2] = rd.manifest["kexec"]
        assert b2["skipped"] and b2["boot_id"] == b["boot_id"] and rd.results()[0]["status"] == "ok"

        (tmp_path / "test_on_host.py").write_text(PLUGIN_TEST.format(root=ROOT))
        p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", "/dev/null",
                            "--rootdir", str(tmp_path), str(tmp_path / "test_on_host.py"), "--lab-target", "vmhost",
                            "--lab-hosts", str(hosts), "--lab-kernel", default_kernel.spec()],
                           capture_output=True, text=True, timeout=300, cwd=tmp_path)
        assert p.returncode == 0 and "2 passed" in p.stdout, p.stdout[-3000:] + p.stderr[-2000:]

        bad = host.hosts(initrd="/lab/no-such-initrd", name="noinitrd")
        rd = run("noinitrd", target="noinitrd", hosts=str(bad), append=["quiet"])
        [r] = rd.results()
        assert r["status"] == "failed" and "kexec -l" in r["error"] and "/lab/no-such-initrd" in r["error"]
        assert "the host still runs " + default_kernel.release in r["error"] and rd.manifest["status"] == "partial"
        assert host_facts_of(get_target(hosts, "vmhost"))["boot_id"] == b["boot_id"]
    finally:
        host.stop()

    # A kernel that panics, on a fresh stand-in (under TCG a kexec after a few cells on one boot sometimes hung in
    # the next kernel's early boot here, which would hide the panic this checks for)
    host = VmHost(tmp_path / "h2", default_kernel).start()
    try:
        copy = tmp_path / "again.bzImage"  # a second kernel: after the first is lost, its cell fails at once
        copy.write_bytes(default_kernel.image.read_bytes())
        panics = host.hosts(timeout=120, name="panics")
        t0 = time.monotonic()
        rd = run("panic", target="panics", hosts=str(panics), kernels=[default_kernel.spec(), str(copy)],
                 append=["rdinit=/no-such-init"])
        took = time.monotonic() - t0
        recs = rd.results()
        assert [r["status"] for r in recs] == ["failed"] * 2 and rd.manifest["status"] == "partial"
        # no init, so the kernel tries a root filesystem it has not got: "VFS: Unable to mount root fs"
        m = re.search(r"panics: panicked (\d+) s after kexec into stock \(Kernel panic - not syncing: VFS: ",
                      recs[0]["error"])
        assert m and int(m.group(1)) < 60 and "last lines of its serial log" in recs[0]["error"], recs[0]["error"]
        assert "panics is gone since earlier in this run: panics: panicked" in recs[1]["error"]
        assert took < 120, took  # the panic, not the 120 s timeout, ended the wait; the second kernel failed at once
    finally:
        host.stop()
