"""kexec without a host (lab/remote/kexec.py): command lines, identity, the hosts file's section."""
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
