"""Where a change in instructions per packet lives: per kernel function, A vs B (records with a profile).

Each function's instructions per packet is compared across the repeats like the headline (Welch, difference
of means, 95 % interval, in instructions per packet). Functions that moved (interval excludes 0 and at
least MIN_INSN) are listed, largest first; the rest are folded into one row, so the rows sum to the change
of the total (the headline: the window's instructions per packet without the mode's history functions,
SLUB's slow paths, whose count is state from before the window; they get a row of their own, "history").
"""
from dataclasses import asdict, dataclass

from ..metrics.profile import split_history
from ..modes import record_mode
from .stats import CONFIDENCE, summarize, welch_interval

MIN_INSN = 0.5      # instructions per packet: a smaller change is folded however tight its interval
FLOOR_INSN = 0.05   # the resolution of one function's count per packet (a standard deviation floor)
FOLDED = "(other functions)"


@dataclass
class FunctionChange:
    name: str
    a: float        # mean instructions per packet
    b: float
    delta: float
    low: float | None
    high: float | None

    def as_dict(self):
        return asdict(self)


def function_changes(a_recs, b_recs, confidence=CONFIDENCE):
    """{"total", "functions": [...], "folded", "history"} (FunctionChanges) or None without profiles on both
    sides (or fewer than 2 repeats a side)."""
    a = [r for r in a_recs if r.get("profile", {}).get("packets")]
    b = [r for r in b_recs if r.get("profile", {}).get("packets")]
    if len(a) < 2 or len(b) < 2:
        return None

    def change(name, av, bv):
        sa, sb = summarize(av), summarize(bv)
        iv = welch_interval(sa, sb, confidence, FLOOR_INSN)
        diff = sb.mean - sa.mean
        return FunctionChange(name, sa.mean, sb.mean, diff, iv and diff - iv[1], iv and diff + iv[1])

    history = record_mode(a[0]).history_functions
    names = dict.fromkeys(n for r in a + b for n in r["profile"]["functions"] if n not in history)
    split_a, split_b = ([split_history(r["profile"], history) for r in side] for side in (a, b))
    total = change("total", [t for t, _ in split_a], [t for t, _ in split_b])
    hist = [h for _, h in split_a], [h for _, h in split_b]
    moved = []
    for n in names:
        c = change(n, [r["profile"]["functions"].get(n, 0.0) for r in a],
                   [r["profile"]["functions"].get(n, 0.0) for r in b])
        if c.low is not None and (c.low > 0 or c.high < 0) and abs(c.delta) >= MIN_INSN:
            moved.append(c)
    moved.sort(key=lambda c: -abs(c.delta))
    rest = total.delta - sum(c.delta for c in moved)
    folded = FunctionChange(FOLDED, total.a - sum(c.a for c in moved), total.b - sum(c.b for c in moved), rest, None,
                            None)
    return {"total": total, "functions": moved, "folded": folded,
            "history": change("slab slow paths (state before the window, not in the total)",
                              *hist) if history else None}
