"""A run's set-up (lab/runner.py): the config preflight, templates before the first boot."""
import pytest

from lab.errors import ConfigError
from lab.vm.links import make_links
from lab.workloads import load_testcase
from tests.support import ROOT, SUPPORT


def _kernel(tmp_path, name, config_text, modular=False):
    from lab.kernel.image import Kernel
    cfg = tmp_path / f"{name}.config"
    cfg.write_text(config_text)
    return Kernel(name=name, image=tmp_path / "bzImage", release="6.1.0", config=cfg,
                  modules_dir=tmp_path if modular else None)


def test_preflight_names_what_a_vng_default_config_lacks(tmp_path):
    """A real `virtme-configkernel --defconfig` .config: ESP over virtio + e1000e needs E1000E and XFRM_USER."""
    from lab.runner import preflight
    tc = load_testcase(ROOT / "testcases/ipsec.yaml")
    vng = _kernel(tmp_path, "vng", (SUPPORT / "data/vng-defconfig-6.1.config").read_text())
    with pytest.raises(ConfigError) as e:
        preflight(tc, [vng], make_links(["virtio", "e1000e"]), say=lambda *_: None)
    msg = str(e.value)
    assert "CONFIG_E1000E (link e1000e1)" in msg and "CONFIG_XFRM_USER (testcase)" in msg, msg
    assert "CONFIG_VIRTIO_NET" not in msg and "lab kconfig" in msg and "vng -b -f" in msg, msg


def test_preflight_loads_modules_on_a_modular_kernel_and_follows_the_axes(tmp_path):
    from lab.plan import apply_overrides
    from lab.runner import preflight
    tc = load_testcase(ROOT / "testcases/tunnel.yaml")
    deb = _kernel(tmp_path, "deb", "CONFIG_VIRTIO_NET=m\nCONFIG_WIREGUARD=m\nCONFIG_VXLAN=m\nCONFIG_NET_FOU=m\n"
                  "CONFIG_NET_FOU_IP_TUNNELS=y\nCONFIG_NET_IPIP=m\n", modular=True)
    assert preflight(tc, [deb], make_links(["virtio"]), say=lambda *_: None) == \
        {"deb": ["virtio_net", "wireguard", "vxlan", "fou", "ipip"]}
    lab = _kernel(tmp_path, "lab", "CONFIG_VIRTIO_NET=y\nCONFIG_VXLAN=y\n# CONFIG_NET_FOU is not set\n")
    vx = apply_overrides(tc, [], {"tunnel": ["vxlan"]}, None, None)  # --axis tunnel=vxlan: FOU is not needed
    assert preflight(vx, [lab], make_links(["virtio"]), say=lambda *_: None) == {"lab": []}
    tc = apply_overrides(tc, [], {"tunnel": ["fou"]}, None, None)
    with pytest.raises(ConfigError, match="CONFIG_NET_FOU .tunnel=fou."):  # =m on a kernel without modules: missing
        preflight(tc, [_kernel(tmp_path, "mods", "CONFIG_VIRTIO_NET=y\nCONFIG_NET_FOU=m\n")], make_links(["virtio"]),
                  say=lambda *_: None)


def _tc(tmp_path, extra="", name="t", duration="1"):
    f = tmp_path / "t.yaml"
    f.write_text(f"name: {name}\nduration: {duration}\nrun: |\n  echo '{{\"value\": 1}}'\nparser: json\n"
                 f"metric: {{name: x, unit: u}}\n{extra}")
    return f


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


def test_guests_at_once_take_whole_blocks_or_share_one_block():
    """--jobs: two kernels x two rounds are four blocks, one guest each; one block with --jobs 2 is one unit both
    guests take cells from, one at a time, so the one that finishes a cell first takes the next."""
    from lab.plan import plan, work_units
    tc = load_testcase(ROOT / "testcases/bulk.yaml")
    links = make_links(["virtio"])
    cells = plan(tc, 2, links, 2)
    units = work_units(cells, 2)
    assert len(units) == 4 and [c for u in units for c in u.cells()] == cells  # the plan's blocks, as they were
    assert [u.cells() for u in work_units(cells, 1)] == [u.cells() for u in units]
    one = plan(tc, 1, links, 1)
    a, b = work_units(one, 2)
    assert a is b and a.cells() == one  # shared
    first, second = a.take(), b.take()
    assert (first, second) == (one[0], one[1])
    b.again(second)  # measured again next, by whichever guest asks first
    assert a.take() is second and len(a) == len(one) - 2
    assert a.rest() == one[2:] and b.take() is None and len(a) == 0
    assert len(work_units(one[:1], 2)) == 1  # one cell: one guest


def test_guests_at_once_each_run_on_a_cpu_of_their_own(monkeypatch):
    """--jobs: slot i's QEMU runs on the i-th CPU the lab may use (in turn when there are more guests than CPUs),
    set in QEMU's child before exec."""
    import os

    from lab.vm import qemu
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3, 1})
    assert [qemu.slot_cpus(s) for s in range(3)] == [(1,), (3,), (1,)]
    calls = []
    monkeypatch.setattr(os, "sched_setaffinity", lambda pid, cpus: calls.append((pid, cpus)))
    monkeypatch.setattr(qemu.ctypes, "CDLL", lambda *a, **k: type("L", (), {"prctl": lambda *a: 0})())
    qemu._preexec(lambda: calls.append("mask"), (3,))()
    qemu._preexec(lambda: calls.append("mask"))()
    assert calls == [(0, (3,)), "mask", "mask"]  # unpinned without CPUs


def test_jobs_default_to_cores_in_deterministic_mode_and_a_host_measures_alone(tmp_path):
    import os

    from lab.modes import DETERMINISTIC, WALLCLOCK
    from lab.options import BY_DEST
    from lab.runner import RunOptions
    assert DETERMINISTIC.parallel and not WALLCLOCK.parallel
    assert BY_DEST["jobs"].problem(0) and not BY_DEST["jobs"].problem(2)
    assert RunOptions(jobs=2).jobs == 2 and os.cpu_count() >= 1


def test_only_a_one_vcpu_guest_is_pinned_to_a_cpu_of_its_own(monkeypatch):
    """--jobs: deterministic mode's one-vCPU guests get a host CPU each; a guest with two vCPUs (wall clock's
    default) is left where the host puts it, since one CPU would run its vCPUs in turn."""
    import os

    from lab.modes import DETERMINISTIC, WALLCLOCK
    from lab.runner import Run
    from lab.vm.qemu import VMConfig
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    run = Run.__new__(Run)
    run.cfg = VMConfig(mode=DETERMINISTIC)
    assert [run.slot_cfg(s).host_cpus for s in (0, 1)] == [(0,), (1,)]
    run.cfg = VMConfig(mode=WALLCLOCK, cpus=2)
    assert run.slot_cfg(1).host_cpus == () and run.slot_cfg(1) is run.cfg


def test_a_guest_per_link_boots_the_link_its_cells_use_and_no_other():
    """Deterministic mode: a block's guest has only its cells' link, with that link's index (so its namespaces,
    MACs and wiring script are the run's); wall clock keeps every link in each guest."""
    from lab.modes import DETERMINISTIC, WALLCLOCK
    from lab.plan import Unit, plan
    from lab.runner import Run
    from lab.vm.qemu import VMConfig

    class Opened(Exception):
        pass

    class Provider:
        lost = "gone"

        def ready(self, kernel, rd, say):
            return None

        def open(self, kernel, cfg, rd, say, slot):
            raise Opened([link.index for link in cfg.links])

    links = make_links(["virtio", "e1000e"])
    tc = load_testcase(ROOT / "testcases/bulk.yaml")
    for mode, want in ((DETERMINISTIC, [[0], [1]]), (WALLCLOCK, [[0, 1]])):
        run = Run.__new__(Run)
        run.cfg, run.provider, run.rd = VMConfig(mode=mode, links=links), Provider(), None
        run.stop, run.say = False, print
        cells = plan(tc, 1, links, 1, mode.guest_per_link)
        got = []
        for b in dict.fromkeys(c.block for c in cells):
            with pytest.raises(Opened) as e:
                run.run_block("k", Unit([c for c in cells if c.block == b]))
            got.append(e.value.args[0])
        assert got == want, mode.name
