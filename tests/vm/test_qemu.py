"""QEMU's argv from a VMConfig alone, the staged guest dir, QEMU's own errors (lab/vm/qemu.py)."""

import pytest

from lab.errors import LabError
from lab.kernel.image import Kernel
from lab.modes import DETERMINISTIC
from lab.results import untrusted
from lab.results.rundir import RunDir
from lab.vm.links import HostNetwork, make_links
from lab.vm.qemu import VM, VMConfig
from tests.support import unchanged, victim


def fake_kernel(tmp_path, modules=False):
    img = tmp_path / "bzImage"
    img.write_bytes(b"\0" * 0x300)
    return Kernel(name="fake", image=img, release="6.1.0-test", modules_dir=tmp_path if modules else None)


def test_argv_tap_backend(tmp_path):
    rd = RunDir.create(tmp_path, "t")
    links = make_links(["virtio", "e1000e"])
    vm = VM(fake_kernel(tmp_path), rd, VMConfig(accel="tcg", cpus=2, memory="1G", append=["quiet"], links=links))
    argv = vm.argv(tmp_path / "initrd", tmp_path / "ctl.sock")
    s = " ".join(argv)
    assert argv[argv.index("-accel") + 1] == "tcg,thread=multi" and argv[argv.index("-cpu") + 1] == "max"
    assert "-netdev tap,id=n0a,ifname=dl0a,script=no,downscript=no,vhost=off,vnet_hdr=on" in s
    assert "-device virtio-net-pci,netdev=n0a,mac=52:54:00:d1:00:0a" in s
    assert "-device e1000e,netdev=n1b,mac=52:54:00:d1:01:0b" in s
    # the run dir: a mapped export (what the guest makes is metadata here); the host: the allow-list view, read-only
    assert f"path={rd.guest_dir},security_model=mapped-xattr" in s
    assert f"path={tmp_path / 'view'},security_model=none,readonly=on" in s and "path=/," not in s
    assert argv[argv.index("-append") + 1].endswith("quiet") and "panic=-1" in argv[argv.index("-append") + 1]
    assert "dplab.links=links-0-1.sh" in argv[argv.index("-append") + 1].split()  # the wiring script stage 1 runs
    assert "mount_tag=modules" not in s  # no modules tree: nothing shared
    assert "hostfwd" not in s and "-nic" not in s  # no TCP port anywhere
    net = HostNetwork(links, "tap", rd.id)
    assert net.wrap(["qemu"]) == ["ip", "netns", "exec", net.netns, "qemu"]


def test_argv_kvm_and_hub(tmp_path):
    rd = RunDir.create(tmp_path, "t")
    links = make_links(["virtio"])
    vm = VM(fake_kernel(tmp_path, modules=True), rd, VMConfig(accel="kvm", cpus=1, backend="hub", links=links))
    argv = vm.argv(tmp_path / "initrd", tmp_path / "ctl.sock")
    assert argv[argv.index("-accel") + 1] == "kvm" and argv[argv.index("-cpu") + 1] == "host"
    assert "hubport,id=n0a,hubid=0" in argv and "mount_tag=modules" in " ".join(argv)
    e1000e_alone = make_links(["virtio", "e1000e"])[1:]  # a guest of a run with one of its links: index 1 kept
    vm = VM(fake_kernel(tmp_path), rd, VMConfig(accel="tcg", backend="hub", links=e1000e_alone))
    argv = vm.argv(tmp_path / "initrd", tmp_path / "ctl.sock")
    assert "hubport,id=n1a,hubid=1" in argv and "dplab.links=links-1.sh" in argv[argv.index("-append") + 1].split()
    assert not any("n0a" in a for a in argv)
    assert HostNetwork(links, "hub", rd.id).wrap(["qemu"]) == ["qemu"]


def test_argv_deterministic_mode(tmp_path):
    rd = RunDir.create(tmp_path, "t")
    links = make_links(["virtio"])
    vm = VM(fake_kernel(tmp_path), rd, VMConfig(accel="tcg", cpus=2, mode=DETERMINISTIC, backend="hub", links=links))
    argv = vm.argv(tmp_path / "initrd", tmp_path / "ctl.sock")
    # QEMU refuses MTTCG with icount, and 2 vCPUs under shift=0 stop at SMP bring-up: the mode forces 1 and one thread
    assert argv[argv.index("-accel") + 1] == "tcg,thread=single" and argv[argv.index("-smp") + 1] == "1"
    assert argv[argv.index("-icount") + 1] == "shift=0,sleep=off" and argv[argv.index("-cpu") + 1] == "max"
    assert vm.cfg.describe()["mode"] == "deterministic" and vm.cfg.describe()["cpus"] == 1
    # virtio's transmit drains on a virtual-clock timer, kicked from the vCPU thread: fixed instruction counts
    assert "virtio-net-pci,netdev=n0a,mac=52:54:00:d1:00:0a,romfile=,tx=timer,ioeventfd=off" in argv


def test_argv_wallclock_keeps_devices_as_they_are(tmp_path):
    rd = RunDir.create(tmp_path, "t")
    links = make_links(["virtio", "e1000e"])
    vm = VM(fake_kernel(tmp_path), rd, VMConfig(accel="tcg", cpus=2, backend="hub", links=links))
    s = " ".join(vm.argv(tmp_path / "initrd", tmp_path / "ctl.sock"))
    assert "tx=timer" not in s and "ioeventfd" not in s
    assert "e1000e,netdev=n1a,mac=52:54:00:d1:01:0a,romfile= " in s + " "


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
    (g / "links-0.sh").symlink_to(v)
    (g / "bin").symlink_to(vdir)
    with pytest.raises(untrusted.UnsafePath, match="'bin' is not a directory"):
        stage_guest_dir(g, make_links(["virtio"]))
    assert unchanged(v, ino) and list(vdir.iterdir()) == []
    (g / "bin").unlink()
    stage_guest_dir(g, make_links(["virtio"]))
    assert unchanged(v, ino) and not (g / AGENT_FILES[0]).is_symlink()
    assert "dplab link wiring" in (g / "links-0.sh").read_text()
    stage_guest_dir(g, make_links(["virtio", "e1000e"])[1:])  # another guest of the run, its own link's script
    assert "52:54:00:d1:01:0a" in (g / "links-1.sh").read_text() and "d1:01" not in (g / "links-0.sh").read_text()


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
    argv = " ".join(vm.argv(tmp_path / "i", tmp_path / "s"))
    assert f"path={str(rd.guest_dir).replace(',', ',,')},security_model=" in argv
    with pytest.raises(LabError, match=r"(?s)QEMU exited .*it said:.*no-such-option"):
        with vm:
            pass
