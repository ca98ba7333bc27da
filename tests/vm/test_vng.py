"""The same VMConfig as a vng command (lab/vm/vng.py)."""
from lab.modes import DETERMINISTIC
from lab.vm.links import make_links
from lab.vm.qemu import VMConfig


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
    assert f"--rwdir=/tmp/lab={tmp_path / 'guest'}" in argv
    assert argv[argv.index("--exec") + 1] == "sh /lab/debug.sh && true"
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
