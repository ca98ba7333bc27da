"""Planning a run: command-line overrides applied to a testcase, then every cell in execution order.

Kernels alternate in rounds (A B A B) and cell order rotates per repeat (A B C, B C A, C A B), so drift
and carry-over from the cell before hit every variant alike. Cell numbers are stable: they are a cell's
identity across --resume and --shard.
"""
import threading
from dataclasses import dataclass, replace

from .errors import ConfigError
from .vm.links import nic_model
from .workloads.testcase import step_timeout


@dataclass
class Cell:
    """One planned measurement."""

    n: int
    block: int       # which boot (round x kernel, x link with block_per_link) runs it
    kernel: int      # index into the run's kernels
    rep: int
    link: object
    params: dict


def apply_overrides(tc, links=(), axes=None, duration=None, repeat=None):
    """--links / --axis / --duration / --repeat: a new Testcase, part of `tc` (unchanged: a replay of the run starts
    from the file again). A `timeout:` the file declares survives --duration; else it follows the new duration."""
    new_axes = dict(tc.axes)
    for axis, values in (axes or {}).items():
        new_axes[axis] = tc.axis_values(axis, values)
    d = duration or tc.duration
    return replace(tc, links=[nic_model(m) for m in links] if links else list(tc.links), axes=new_axes, duration=d,
                   timeout=tc.declared_timeout or step_timeout(d), repeat=repeat or tc.repeat)


def schedule(n_kernels, repeat, rounds):
    """Blocks of (kernel index, repeat indices): kernels alternate per round so drift hits all of them."""
    rounds = max(1, min(rounds, repeat))
    reps = [list(range(repeat))[r::rounds] for r in range(rounds)]
    return [(k, reps[r]) for r in range(rounds) for k in range(n_kernels) if reps[r]]


def rotate(cells, rep):
    """Repeat r starts at cell r mod n (A B C, B C A, C A B, ...): every variant takes every position,
    so a carry-over from the cell before (TCP state, caches, a toggled feature) does not bias one variant."""
    k = rep % len(cells) if cells else 0
    return cells[k:] + cells[:k]


def plan(tc, n_kernels, links, rounds, block_per_link=False):
    """Every cell of the run in execution order; numbering is stable for a given testcase and options.
    `block_per_link`: each link's cells of a kernel and round are a block (a boot) of their own."""
    cells, n = [], 0
    for b, (k, reps) in enumerate(schedule(n_kernels, tc.repeat, rounds)):
        for rep in reps:
            for i, link in enumerate(links):
                for params in rotate(tc.cells(), rep):
                    n += 1
                    cells.append(Cell(n, b * len(links) + i if block_per_link else b, k, rep, link, params))
    return cells


def parse_shard(shard):
    """'I/N' -> (I, N) with 1 <= I <= N."""
    try:
        i, n = (int(x) for x in shard.split("/"))
    except (AttributeError, ValueError):
        raise ConfigError(f"--shard {shard!r}: expected I/N, e.g. 1/4") from None
    if not 1 <= i <= n:
        raise ConfigError(f"--shard {shard}: I must be between 1 and N")
    return i, n


def shard_cells(cells, shard):
    """The cells of shard I/N: every N-th cell from the I-th, so each shard sees every variant."""
    if not shard:
        return cells
    i, n = parse_shard(shard)
    return [c for c in cells if (c.n - 1) % n == i - 1]


def fmt_params(params):
    return ",".join(f"{k}={v}" for k, v in params.items()) or "-"


class Unit:
    """The cells one guest measures, taken one at a time. The parts a block is dealt into for guests at once share
    one: a guest takes the next cell when it finishes one, so none waits on another's slow cells."""

    def __init__(self, cells):
        self._cells, self._lock, self.attempts = list(cells), threading.Lock(), {}  # attempts: cell n -> attempt
        self.kernel = self._cells[0].kernel if self._cells else None

    def __len__(self):
        return len(self._cells)

    def cells(self):
        return list(self._cells)

    def take(self):
        """The next cell, or None when the unit is done."""
        with self._lock:
            return self._cells.pop(0) if self._cells else None

    def again(self, cell):
        """`cell` back at the front: measured again next (by whichever guest takes it)."""
        with self._lock:
            self._cells.insert(0, cell)

    def rest(self):
        """Every cell not taken yet, taken now."""
        with self._lock:
            out, self._cells = self._cells, []
            return out


def work_units(cells, jobs):
    """The cells as units of one guest each: the plan's blocks (a boot per kernel and round), and, when there are
    fewer blocks than `jobs`, a block shared by as many guests as it can use (a record in a mode that runs guests at
    once does not depend on which boot measured it)."""
    blocks = [[c for c in cells if c.block == b] for b in dict.fromkeys(c.block for c in cells)]
    if jobs <= 1 or len(blocks) >= jobs:
        return [Unit(b) for b in blocks]
    parts = -(-jobs // len(blocks))
    return [u for u in map(Unit, blocks) for _ in range(min(parts, len(u)))]
