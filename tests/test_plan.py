"""Planning (lab/plan.py): overrides, rounds, rotation, shards."""
import subprocess

import pytest

from lab.errors import ConfigError
from lab.plan import schedule
from lab.vm.links import make_links
from lab.workloads import load_testcase
from lab.workloads.render import render
from tests.support import ROOT


def test_rotation_puts_every_variant_in_every_position():
    from lab.plan import rotate
    cells = ["A", "B", "C"]
    orders = [rotate(cells, r) for r in range(3)]
    assert orders == [["A", "B", "C"], ["B", "C", "A"], ["C", "A", "B"]]
    for pos in range(3):
        assert {o[pos] for o in orders} == set(cells)


def test_schedule_interleaves_kernels():
    assert schedule(2, 5, 2) == [(0, [0, 2, 4]), (1, [0, 2, 4]), (0, [1, 3]), (1, [1, 3])]
    assert schedule(1, 3, 1) == [(0, [0, 1, 2])]
    assert schedule(2, 1, 2) == [(0, [0]), (1, [0])]


def test_shards_cover_every_cell_exactly_once():
    from types import SimpleNamespace

    from lab.plan import plan, shard_cells
    tc = SimpleNamespace(repeat=5, cells=lambda: [{"s": 64}, {"s": 512}, {"s": 1500}])
    cells = plan(tc, 2, make_links(["virtio", "e1000e"]), 2)
    assert [c.n for c in cells] == list(range(1, 61))
    for n in (1, 2, 3, 4, 7):
        seen = [c.n for i in range(1, n + 1) for c in shard_cells(cells, f"{i}/{n}")]
        assert sorted(seen) == list(range(1, 61))
    with pytest.raises(Exception, match="expected I/N"):
        shard_cells(cells, "x")
    with pytest.raises(Exception, match="between 1 and N"):
        shard_cells(cells, "5/4")




def test_a_block_per_link_splits_each_boot_by_link_and_keeps_the_numbering():
    """Deterministic mode's guest per link: the same cells in the same order, each block one link's."""
    from types import SimpleNamespace

    from lab.plan import plan
    tc = SimpleNamespace(repeat=3, cells=lambda: [{"s": 64}, {"s": 1500}])
    links = make_links(["virtio", "e1000e"])
    shared, split = plan(tc, 2, links, 2), plan(tc, 2, links, 2, block_per_link=True)
    key = [(c.n, c.kernel, c.rep, c.link.index, c.params) for c in shared]
    assert [(c.n, c.kernel, c.rep, c.link.index, c.params) for c in split] == key
    assert len({c.block for c in split}) == 2 * len({c.block for c in shared}) == 8
    for b in {c.block for c in split}:
        cells = [c for c in split if c.block == b]
        assert len({c.link.index for c in cells}) == 1 and len({c.kernel for c in cells}) == 1


def test_links_and_axis_narrow_a_testcase_or_name_what_exists():
    from lab.options import axis as _axis
    from lab.plan import apply_overrides
    orig = load_testcase(ROOT / "testcases/xsk.yaml")
    tc = apply_overrides(orig, links=["virtio"], axes=dict([_axis("size=64,1500")]), duration=2)
    assert [m.name for m in tc.links] == ["virtio"] and tc.axes["size"] == [64, 1500] and tc.duration == 2
    assert [m.name for m in orig.links] == ["virtio", "e1000e"] and 64 in orig.axes["size"] and 512 in orig.axes["size"]
    assert orig.duration != 2  # the loaded testcase is not changed: a replay (lab debug) starts from the file
    with pytest.raises(ConfigError, match="known models: virtio, e1000e"):
        apply_overrides(tc, links=["rtl8139"])
    with pytest.raises(ConfigError, match="has axes size"):
        apply_overrides(tc, axes={"alg": ["gcm"]})
    with pytest.raises(ConfigError, match="expected NAME=V1,V2"):
        _axis("size")


def test_command_line_axis_values_keep_the_declared_type():
    """`--axis gso=on` used to become YAML's True and render as 1 (ethtool: "flag '1' for parameter")."""
    from lab.options import axis as _axis
    from lab.plan import apply_overrides
    axes = dict([_axis("tunnel=wireguard,vxlan"), _axis("gso=on")])
    tc = apply_overrides(load_testcase(ROOT / "testcases/tunnel.yaml"), axes=axes)
    assert tc.axes == {"tunnel": ["wireguard", "vxlan"], "gso": ["on"]}
    out = subprocess.run(["sh", "-c", render("printf %s {{ params.gso }}", {"params": {"gso": tc.axes["gso"][0]}})],
                         capture_output=True, text=True).stdout
    assert out == "on"  # what ethtool -K ... gso receives
    with pytest.raises(ConfigError, match=r"--axis gso=yes: not a value of axis gso .*allowed: on, off"):
        apply_overrides(tc, axes={"gso": ["yes"]})
    # size is open
    xsk = apply_overrides(load_testcase(ROOT / "testcases/xsk.yaml"), axes=dict([_axis("size=64,9000")]))
    assert xsk.axes["size"] == [64, 9000]
    with pytest.raises(ConfigError, match="axis size takes int values"):
        apply_overrides(xsk, axes={"size": ["$(touch F)"]})


def test_overrides_make_a_new_testcase_and_a_declared_timeout_survives_duration(tmp_path):
    from lab.plan import apply_overrides
    from lab.workloads import load_testcase
    f = tmp_path / "t.yaml"
    f.write_text("name: t\nduration: 5\ntimeout: 900\nrun: |\n  true\nparser: json\nmetric: {name: x, unit: u}\n")
    tc = load_testcase(f)
    short = apply_overrides(tc, duration=1)
    assert (short.duration, short.timeout) == (1, 900) and (tc.duration, tc.timeout) == (5, 900)
    f.write_text("name: t\nduration: 5\nrun: |\n  true\nparser: json\nmetric: {name: x, unit: u}\n")
    plain = load_testcase(f)
    assert plain.timeout == 75 and apply_overrides(plain, duration=2).timeout == 66  # 3 x duration + 60
