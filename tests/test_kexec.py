"""The kernel under test on a hardware target (remote/kexec.py): the command line and identity rules as units; then
a real kexec on a stand-in host (tests/vmhost.py: a guest of the lab kernel with sshd and two cabled ports)."""
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab.errors import ConfigError
from lab.kernel.image import Kernel
from lab.remote.kexec import identity_problems, next_cmdline, token

ROOT = Path(__file__).resolve().parent.parent


def fake_kernel(tmp_path, release="6.1.192"):
    img = tmp_path / "bzImage"
    img.write_bytes(b"not really a kernel")
    return Kernel(name="k", image=img, release=release)


def test_the_command_line_is_reused_with_the_lab_token_replaced(tmp_path):
    k = fake_kernel(tmp_path)
    now = ("BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro initrd=/initrd.img console=ttyS0 quiet "
           "dplab.kernel=0123456789abcdef rdinit=/x")
    assert next_cmdline(now, k, ["nosmt"]) == f"root=/dev/sda1 ro console=ttyS0 quiet {token(k)} nosmt"
    assert next_cmdline(next_cmdline(now, k, ["nosmt"]), k) == f"root=/dev/sda1 ro console=ttyS0 quiet {token(k)}"
    assert token(k) == f"dplab.kernel={k.sha256[:16]}"


def test_identity_names_what_differs(tmp_path):
    k = fake_kernel(tmp_path)
    ok = {"release": "6.1.192", "cmdline": f"root=/dev/sda1 {token(k)} nosmt"}
    assert identity_problems(ok, k, ["nosmt"]) == []
    assert identity_problems({**ok, "release": "6.1.0-56-amd64"}, k, ["nosmt"]) == ["it runs release 6.1.0-56-amd64, "
                                                                                    "not 6.1.192"]
    assert identity_problems(ok, k) == ["its command line ends with nosmt after the token, not (nothing)"]
    assert identity_problems({**ok, "cmdline": "root=/dev/sda1 nosmt"}, k, ["nosmt"]) == [
        f"its command line has no dplab.kernel=, not {token(k)}"]
    assert identity_problems({**ok, "cmdline": "dplab.kernel=0123456789abcdef nosmt"}, k, ["nosmt"]) == [
        f"its command line has dplab.kernel=0123456789abcdef, not {token(k)}"]


def write_hosts(tmp_path, kexec, kind="hardware"):
    for f in ("key", "known_hosts"):
        (tmp_path / f).write_text("")
    p = tmp_path / "hosts.yaml"
    p.write_text(f"targets:\n  b1:\n    kind: {kind}\n    ssh: ssh://root@192.0.2.1\n    key: key\n    known_hosts: "
                 "known_hosts\n"
                 + ("    ports: {a: p0, b: p1}\n" if kind == "hardware" else "") + kexec)
    return p


def test_hosts_file_kexec_section_is_validated(tmp_path):
    from lab.remote.hosts import get_target
    t = get_target(write_hosts(tmp_path, "    kexec:\n      timeout: 60\n      serial_log: console.log\n"), "b1")
    assert t.kexec.timeout == 60 and t.kexec.serial_log == tmp_path / "console.log" and t.kexec.initrd is None
    with pytest.raises(ConfigError, match=r"hosts.yaml:9: targets.b1.kexec.timout: unknown key; allowed: timeout"):
        get_target(write_hosts(tmp_path, "    kexec:\n      timout: 60\n"), "b1")
    with pytest.raises(ConfigError, match=r"hosts.yaml:7: targets.b1.kexec: only a hardware target kexecs"):
        get_target(write_hosts(tmp_path, "    kexec: {timeout: 60}\n", kind="remote-lab"), "b1")


def test_kernel_and_append_options_need_a_kexec_target(tmp_path):
    from lab.runner import RunOptions
    from lab.targets import provider_for as target_of
    plain = write_hosts(tmp_path, "")
    with pytest.raises(ConfigError,
                       match=r"--target b1: --kernel needs a kexec: section in its entry \(.*hosts.yaml:2"):
        target_of(RunOptions(target="b1", hosts=str(plain), kernels=["stock"]))
    kx = tmp_path / "kx"
    kx.mkdir()
    with pytest.raises(ConfigError, match="--append goes on the command line of a --kernel"):
        target_of(RunOptions(target="b1", hosts=str(write_hosts(kx, "    kexec: {}\n")), append=["nosmt"]))


def test_a_kernel_whose_modules_stay_here_is_refused(tmp_path):
    """A Debian-style kernel (boot/vmlinuz-R + lib/modules/R): the host would boot it without its modules."""
    from lab.remote.hosts import get_target
    from lab.remote.kexec import host_kernels
    deb = tmp_path / "deb"
    (deb / "boot").mkdir(parents=True)
    (deb / "lib/modules/6.1.0-56-amd64").mkdir(parents=True)
    (deb / "boot/vmlinuz-6.1.0-56-amd64").write_bytes(b"image")
    t = get_target(write_hosts(tmp_path, "    kexec: {}\n"), "b1")
    with pytest.raises(ConfigError, match=r"--kernel deb: its modules \(.*lib/modules/6.1.0-56-amd64\) are not on b1"):
        host_kernels(t, [str(deb)])
    t = get_target(write_hosts(tmp_path, "    kexec: {initrd: /boot/initrd.img-6.1.0-56-amd64}\n"), "b1")
    assert [k.release for k in host_kernels(t, [str(deb)])] == ["6.1.0-56-amd64"]  # its modules in the host's initrd


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
    a kernel that panics fails its cells after the timeout with the serial log's panic, the rest at once."""
    from lab.remote.hosts import get_target
    from lab.runner import RunOptions, run_testcase
    from lab.workloads import load_testcase

    from .vmhost import VmHost
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
        panics = host.hosts(timeout=30, name="panics")
        t0 = time.monotonic()
        rd = run("panic", target="panics", hosts=str(panics), kernels=[default_kernel.spec(), str(copy)],
                 append=["rdinit=/no-such-init"])
        took = time.monotonic() - t0
        recs = rd.results()
        assert [r["status"] for r in recs] == ["failed"] * 2 and rd.manifest["status"] == "partial"
        assert "did not come back within 30 s of kexec into stock" in recs[0]["error"]
        assert "Kernel panic" in recs[0]["error"] and "last lines of its serial log" in recs[0]["error"]
        assert "panics is gone since earlier in this run: panics: did not come back" in recs[1]["error"]
        assert took < 30 + 45, took  # one timeout, not two
    finally:
        host.stop()
