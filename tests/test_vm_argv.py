"""QEMU argv, links and the initramfs: built without booting anything."""
import struct
import subprocess

import pytest

from lab.errors import ConfigError
from lab.kernel.image import Kernel, bzimage_release
from lab.kernel.initramfs import Cpio, module_load_order
from lab.modes import DETERMINISTIC
from lab.results.rundir import RunDir
from lab.vm.links import HostNetwork, guest_setup_script, make_links, nic_model
from lab.vm.qemu import VM, VMConfig


def fake_kernel(tmp_path, modules=False):
    img = tmp_path / "bzImage"
    img.write_bytes(b"\0" * 0x300)
    return Kernel(name="fake", image=img, release="6.1.0-test", modules_dir=tmp_path if modules else None)


def test_unknown_nic_model_lists_known():
    with pytest.raises(ConfigError, match="unknown NIC model 'rtl8139'; known models: virtio, e1000e"):
        nic_model("rtl8139")


def test_links_have_distinct_macs_namespaces_addresses():
    links = make_links(["virtio", "e1000e"])
    macs = {l.mac(s) for l in links for s in "ab"}
    assert len(macs) == 4 and links[0].ns("a") == "virtio0a" and links[1].addr("b") == "198.18.1.2"


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
    assert HostNetwork(links, "hub", rd.id).wrap(["qemu"]) == ["qemu"]


def test_guest_setup_wires_each_nic_by_mac_slowest_carrier_first():
    s = guest_setup_script(make_links(["virtio", "e1000e"]))
    wires = [line for line in s.splitlines() if line.startswith("wire ")]
    assert wires == ["wire e1000e1a 52:54:00:d1:01:0a 198.18.1.1/24 fd00:d1:1::1/64",
                     "wire e1000e1b 52:54:00:d1:01:0b 198.18.1.2/24 fd00:d1:1::2/64",
                     "wire virtio0a 52:54:00:d1:00:0a 198.18.0.1/24 fd00:d1:0::1/64",
                     "wire virtio0b 52:54:00:d1:00:0b 198.18.0.2/24 fd00:d1:0::2/64"]
    assert "dev_by_mac" in s and "unshare --net=" in s and "nsenter --net=" in s  # busybox applets, from RAM
    p = subprocess.run(["busybox", "sh", "-n", "-c", s], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr  # parses as busybox sh


def test_module_order_deps_first(tmp_path):
    (tmp_path / "modules.dep").write_text(
        "kernel/fs/9p/9p.ko: kernel/net/9p/9pnet.ko kernel/fs/netfs/netfs.ko\nkernel/net/9p/9pnet.ko:\n"
        "kernel/fs/netfs/netfs.ko:\nkernel/net/9p/9pnet_virtio.ko: kernel/net/9p/9pnet.ko "
        "kernel/drivers/virtio/virtio.ko\n"
        "kernel/drivers/virtio/virtio.ko:\n")
    order = module_load_order(tmp_path, ["9p", "9pnet_virtio", "absent"])
    assert order == ["kernel/net/9p/9pnet.ko", "kernel/fs/netfs/netfs.ko", "kernel/fs/9p/9p.ko",
                     "kernel/drivers/virtio/virtio.ko", "kernel/net/9p/9pnet_virtio.ko"]
    assert module_load_order(None) == []


def test_cpio_newc_is_readable_by_cpio(tmp_path):
    import subprocess
    c = Cpio()
    c.dir("bin")
    c.file("bin/hello", b"#!/bin/sh\necho hi\n", 0o755)
    (tmp_path / "a.cpio").write_bytes(c.finish())
    out = subprocess.run(["cpio", "-t", "-F", str(tmp_path / "a.cpio")], capture_output=True, text=True)
    assert out.stdout.split() == ["bin", "bin/hello"]


def test_bzimage_release_from_setup_header(tmp_path):
    data = bytearray(0x400)
    data[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", data, 0x20E, 0x100)
    data[0x300:0x300 + 40] = b"6.1.192-lab (root@x) #1 SMP\0".ljust(40, b"\0")
    p = tmp_path / "bzImage"
    p.write_bytes(bytes(data))
    assert bzimage_release(p) == "6.1.192-lab"
    tree = tmp_path / "linux"  # a tree `vng -b` built: bzImage, .config, modules under .virtme_mods
    (tree / "arch/x86/boot").mkdir(parents=True)
    (tree / "arch/x86/boot/bzImage").write_bytes(bytes(data))
    (tree / ".config").write_text("CONFIG_VIRTIO_NET=m\n")
    from lab.kernel.image import from_path
    assert from_path(tree).modules_dir is None  # no modules installed: a monolithic kernel
    mods = tree / ".virtme_mods/lib/modules/0.0.0"
    mods.mkdir(parents=True)
    (mods / "modules.dep").write_text("kernel/drivers/net/virtio_net.ko:\n")
    k = from_path(tree)
    assert (k.release, k.modules_dir, k.config) == ("6.1.192-lab", mods, tree / ".config")
    assert k.spec() == str(tree)  # --resume and the manifest resolve it back to the tree
    (tmp_path / "junk").write_bytes(b"\0" * 0x400)
    with pytest.raises(ConfigError, match="not an x86 bzImage"):
        bzimage_release(tmp_path / "junk")


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
    vm = VM(fake_kernel(tmp_path), rd, VMConfig(accel="tcg", cpus=2, backend="hub", links=make_links(["virtio",
                                                                                                      "e1000e"])))
    s = " ".join(vm.argv(tmp_path / "initrd", tmp_path / "ctl.sock"))
    assert "tx=timer" not in s and "ioeventfd" not in s
    assert "e1000e,netdev=n1a,mac=52:54:00:d1:01:0a,romfile= " in s + " "


def test_compare_never_mixes_modes():
    from lab.results.compare import compare, dims
    base = {"run_id": "r", "kernel": {"name": "k"}, "link": "virtio0", "params": {}, "status": "ok", "value": 1.0}
    recs = [dict(base, cell=i, mode=m, value=v) for i, (m, v) in enumerate(
        [("wallclock", 1.0), ("wallclock", 1.1), ("deterministic", 5.0), ("deterministic", 5.1)])]
    assert dims(recs[2])["mode"] == "deterministic" and dims(recs[0])["mode"] == "wallclock"
    with pytest.raises(ConfigError, match="never compares across measurement modes"):
        compare(recs, by="mode")
    assert compare(recs) == []  # no dimension pairs a wallclock record with a deterministic one


def test_headline_is_the_window_count_and_never_pairs_with_the_senders():
    """Deterministic records headline the profiler's window (slab slow paths out); without a profile the sender's
    CPU time, a different measure: the two are never compared."""
    from lab.metrics.profile import window_counts
    from lab.results.compare import compare
    from lab.results.headline import headline
    prof = {"window_insns": 2_600_000, "packets": 1000, "functions": {"__slab_free": 60.0, "___slab_alloc": 20.0,
                                                                      "f": 9.0}}
    d = window_counts(prof, DETERMINISTIC.history_functions)
    assert d == {"insn/pkt": 2520.0, "slab-slow insn/pkt": 80.0}
    base = {"run_id": "r", "link": "virtio0", "params": {}, "status": "ok", "mode": "deterministic",
            "unit": "pkts/cpu-s"}
    win = [dict(base, kernel={"name": k}, cell=i, value=4e5, derived={"insn/pkt": v, "sender-cpu-ns/pkt": 2400.0})
           for i, (k, v) in enumerate([("a", 2520.0), ("a", 2521.0), ("b", 2600.0), ("b", 2601.0)])]
    h = headline(win[0])
    assert (h.metric, h.unit, h.value, h.higher_is_better) == ("instructions per packet", "insn/pkt", 2520.0, False)
    snd = [dict(r, derived={"sender-cpu-ns/pkt": 2400.0}) for r in win]
    assert headline(snd[0]).metric == "sender instructions per packet" and headline(snd[0]).value == 2400.0
    [p] = compare(win, by="kernel", baseline="a")
    assert p.result.verdict == "slower" and p.unit == "insn/pkt"
    assert compare([win[0], win[1], snd[2], snd[3]], by="kernel", baseline="a") == []  # window vs sender: no pair


def _qemu_opts(argv):
    """What vng hands QEMU: it shlex-splits its --qemu-opts string (virtme_ng/run.py)."""
    import shlex
    opts = [a for a in argv if a.startswith("--qemu-opts=")]
    return shlex.split(opts[0].split("=", 1)[1]) if opts else []


def test_vng_command_carries_the_lab_nics_mode_and_run_dir(tmp_path):
    from lab.vm.vng import VngBoot
    links = make_links(["virtio", "e1000e"])
    cfg = VMConfig(accel="tcg", cpus=2, memory="1G", mode=DETERMINISTIC, links=links, backend="hub")
    argv = VngBoot(tmp_path / "bzImage", cfg, share=tmp_path / "guest", exec_cmd="sh /lab/debug.sh && true").argv()
    assert argv[1:4] == ["--run", str(tmp_path / "bzImage"), "--force-9p"] and "--disable-kvm" in argv
    assert argv[argv.index("--cpus") + 1] == "1" and argv[argv.index("--memory") + 1] == "1G"  # the mode's 1 vCPU
    assert f"--rwdir=/tmp/lab={tmp_path / 'guest'}" in argv and argv[argv.index("--exec")
                                                                     + 1] == "sh /lab/debug.sh && true"
    # virtme-run's --qemu-opts takes the rest: last
    assert "--debug" not in argv and argv[-1].startswith("--qemu-opts=")
    # exactly the lab's own QEMU arguments for the mode, CPU and links (the same Link.qemu_args)
    assert _qemu_opts(argv) == ["-accel", "tcg,thread=single", "-cpu", "max", "-icount", "shift=0,sleep=off",
                                *links[0].qemu_args("hub", sync=True), *links[1].qemu_args("hub", sync=True)]
    opts = " ".join(_qemu_opts(argv))
    assert "mac=52:54:00:d1:01:0b" in opts and "tx=timer,ioeventfd=off" in opts


def test_vng_command_on_kvm_with_gdb(tmp_path):
    from lab.vm.vng import VngBoot
    cfg = VMConfig(accel="kvm", cpus=4, links=make_links(["virtio"]), backend="tap")
    argv = VngBoot(tmp_path / "bzImage", cfg, gdb=True).argv()
    assert "--disable-kvm" not in argv and "--debug" in argv and "--exec" not in argv
    assert _qemu_opts(argv)[:2] == ["-cpu", "host"] and "-accel" not in _qemu_opts(argv)  # vng chooses KVM itself
    assert "tap,id=n0a,ifname=dl0a,script=no,downscript=no,vhost=off,vnet_hdr=on" in _qemu_opts(argv)
    bare = VngBoot(tmp_path / "bzImage", exec_cmd="true").argv()  # make bench-boot: vng's own defaults
    assert _qemu_opts(bare) == [] and "--disable-kvm" in bare and bare[-2:] == ["--exec", "true"]


def test_host_network_shell_is_what_it_runs(tmp_path):
    net = HostNetwork(make_links(["virtio"]), "tap", "20261124-000000-x-abcd")
    sh = net.shell_setup()
    assert sh[0] == f"ip netns add {net.netns}" and sh[2] == net.batch().rstrip("\n")
    assert "tuntap add dev dl0a mode tap vnet_hdr" in net.batch() and net.shell_teardown() == ["ip netns del "
                                                                                               f"{net.netns}"]
    assert HostNetwork(make_links(["virtio"]), "hub", "x").shell_setup() == []
