"""kexec without a host (lab/remote/kexec.py): command lines, identity, the hosts file's section."""
import os

import pytest

from lab.errors import ConfigError
from lab.kernel.image import Kernel
from lab.remote.kexec import identity_problems, next_cmdline, token
from tests.support import write_hosts


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
    assert identity_problems({**ok, "release": "6.1.0-56-amd64"}, k, ["nosmt"]) == [
        "it runs release 6.1.0-56-amd64, not 6.1.192"]
    assert identity_problems(ok, k) == ["its command line ends with nosmt after the token, not (nothing)"]
    assert identity_problems({**ok, "cmdline": "root=/dev/sda1 nosmt"}, k, ["nosmt"]) == [
        f"its command line has no dplab.kernel=, not {token(k)}"]
    assert identity_problems({**ok, "cmdline": "dplab.kernel=0123456789abcdef nosmt"}, k, ["nosmt"]) == [
        f"its command line has dplab.kernel=0123456789abcdef, not {token(k)}"]


def test_hosts_file_kexec_section_is_validated(tmp_path):
    from lab.remote.hosts import get_target
    t = get_target(write_hosts(tmp_path, "    kexec:\n      timeout: 60\n      serial_log: console.log\n"), "b1")
    assert t.kexec.timeout == 60 and t.kexec.serial_log == tmp_path / "console.log" and t.kexec.initrd is None
    with pytest.raises(ConfigError, match=r"hosts.yaml:9: targets.b1.kexec.timout: unknown key; allowed: timeout"):
        get_target(write_hosts(tmp_path, "    kexec:\n      timout: 60\n"), "b1")
    with pytest.raises(ConfigError, match=r"hosts.yaml:7: targets.b1.kexec: only a hardware target kexecs"):
        get_target(write_hosts(tmp_path, "    kexec: {timeout: 60}\n", kind="remote-lab"), "b1")


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


class Clock:
    """time for lab.remote.kexec: sleep moves monotonic on, nothing waits."""
    def __init__(self):
        self.now = 1000.0

    def monotonic(self):
        return self.now

    def sleep(self, s):
        self.now += s


def test_a_panic_the_serial_log_prints_after_the_kexec_fails_the_boot_at_once(tmp_path, monkeypatch):
    """The host never answers; its serial log gains a panic on the second try: the boot fails then, not at the
    timeout, with the panic line. A panic the log held before the kexec (an earlier boot's) is not this one's."""
    from lab.errors import KexecError
    from lab.remote import kexec
    from lab.remote.hosts import get_target
    t = get_target(write_hosts(tmp_path, "    kexec:\n      timeout: 300\n      serial_log: console.log\n"), "b1")
    log = tmp_path / "console.log"
    log.write_bytes(b"[    1.0] Kernel panic - not syncing: an earlier boot's\n[    2.0] login:\n")
    start = kexec.serial_size(log)
    tries = []

    def refused(target, fn):
        tries.append(target.name)
        if len(tries) == 2:
            with log.open("ab") as f:
                f.write(b"[    0.9] Run /no-such-init as init process\n"
                        b"[    1.1] Kernel panic - not syncing: No working init found.\x1b[0m\r\n[    1.2] CPU: 0\n")
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(kexec, "_session", refused)
    monkeypatch.setattr(kexec, "time", Clock())
    k = fake_kernel(tmp_path)
    with pytest.raises(KexecError) as e:
        kexec._wait(t, k, (), {"boot_id": "old"}, kexec.time.monotonic(), start, print)
    assert str(e.value).startswith("b1: panicked 6 s after kexec into k (Kernel panic - not syncing: No working "
                                   "init found.?[0m)"), str(e.value)
    assert "last lines of its serial log" in str(e.value) and e.value.down and len(tries) == 2
    # the same log from the kexec's start holds only the earlier boot's panic: the timeout decides
    log.write_bytes(b"[    1.0] Kernel panic - not syncing: an earlier boot's\n")
    tries.clear()
    monkeypatch.setattr(kexec, "_session", lambda target, fn: (_ for _ in ()).throw(TimeoutError("timed out")))
    with pytest.raises(KexecError, match=r"b1: did not come back within 300 s of kexec into k \(last: timed out\)"):
        kexec._wait(t, k, (), {"boot_id": "old"}, kexec.time.monotonic(), kexec.serial_size(log), print)
    assert kexec.panic_line(log, 0) == "Kernel panic - not syncing: an earlier boot's"
    assert kexec.panic_line(log, 1 << 20) == kexec.panic_line(log, 0)  # shorter than at the kexec: rotated, all new
    assert kexec.panic_line(tmp_path / "absent.log", 0) is None and kexec.panic_line(None, 0) is None
    assert kexec.serial_size(tmp_path / "absent.log") == 0
    big = tmp_path / "big.log"  # a console server's log of a long life: only its end is read
    big.write_bytes(b"Kernel panic - not syncing: long ago\n" + b"x" * kexec.SERIAL_SCAN + b"\n[ 9.0] login:\n")
    assert kexec.panic_line(big, 0) is None and kexec.serial_tail(big).endswith("  [ 9.0] login:")
    fifo = tmp_path / "console.fifo"  # a console server's pipe: reading it would wait for a writer
    os.mkfifo(fifo)
    assert kexec.panic_line(fifo, 0) is None and kexec.serial_tail(fifo).endswith("not a regular file)")
