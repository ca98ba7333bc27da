"""A/B comparison of records: pairs of variants that differ in one dimension, with verdicts and the
counters (normalised per packet) that moved with them."""
import math
from dataclasses import dataclass, field

from ..errors import ConfigError
from ..metrics.derived import is_host_time, record_per_packet
from ..modes import record_mode
from .functions import function_changes
from .headline import headline
from .rundir import final_attempts
from .stats import CONFIDENCE, Comparison, benjamini_hochberg, summarize, welch

TOP_COUNTERS = 8
FDR_Q = 0.05  # false discovery rate for "counters that moved" (Benjamini-Hochberg over every counter of a pair)
# Dimensions a pair never spans: records of different modes, accelerators or CPU models measure different things.
NEVER_ACROSS = {"testcase": "testcases", "mode": "measurement modes", "accel": "accelerators", "cpu": "CPU models",
                "unit": "units (Gbit/s beside Mbit/s is no change)",
                "measure": "headline measures (the profiler's window vs the sender's CPU time)"}
# A kernel's content (sha256) goes with its name along `kernel`, and changes between runs (nights) by design.
TIED = {"kernel": {"kernel_id"}, "run": {"kernel_id"}}


def kernel_id(rec):
    k = rec.get("kernel") or {}
    return (k.get("sha256") or "")[:12] or k.get("build_key") or None


def dims(rec, with_run=False):
    """The dimensions of a record: kernel (name, and identity by content), link, each param, mode, accelerator,
    CPU model (and the run, across runs)."""
    d = {"testcase": rec.get("testcase", "?"), "kernel": (rec.get("kernel") or {}).get("name", "?"),
         "link": rec["link"]}
    if kernel_id(rec):
        d["kernel_id"] = kernel_id(rec)
    d.update({k: str(v) for k, v in rec.get("params", {}).items()})
    d["mode"] = record_mode(rec).name
    h = headline(rec)
    d["measure"], d["unit"] = h.metric, h.unit
    for k, field_ in (("accel", "accel"), ("cpu", "cpu_model")):
        if rec.get(field_):
            d[k] = rec[field_]
    if with_run:
        d["run"] = rec["run_id"]
    return d


@dataclass
class Pair:
    dimension: str
    a: str
    b: str
    context: dict
    metric: str
    unit: str
    result: Comparison
    counters: list = field(default_factory=list)  # [(name, Comparison)] significant movers, largest first
    mode: str = "wallclock"  # the measurement mode of both sides (never mixed)
    functions: dict | None = None  # per-function instruction changes (results/functions.py), if profiled

    def as_dict(self):
        return {"dimension": self.dimension, "a": self.a, "b": self.b, "context": self.context, "metric": self.metric,
                "unit": self.unit, "mode": self.mode, **self.result.as_dict(),
                "functions": None if not self.functions else {
                    "total": self.functions["total"].as_dict(), "folded": self.functions["folded"].as_dict(),
                    "functions": [c.as_dict() for c in self.functions["functions"]],
                    "history": self.functions["history"] and self.functions["history"].as_dict()},
                "counters": [{"name": n, **c.as_dict()} for n, c in self.counters]}


def candidate_dimensions(records):
    """Dimensions worth comparing along, most telling first: kernel, run, each axis, link."""
    seen = []
    for r in records:
        for k in ["kernel", "run", *r.get("params", {}), "link"]:
            if k not in seen:
                seen.append(k)
    return seen


def compare(records, by=None, baseline=None, confidence=CONFIDENCE):
    """All A/B pairs along dimension `by` (baseline = A; default: the first value seen).

    Without `by`, the first dimension (kernel, run, each axis, link) that yields any pair is used. Each cell
    counts once, by its final attempt; a record whose headline is not a finite number is left out."""
    ok = [r for r in final_attempts(records).values() if r.get("status") == "ok" and _finite(headline(r).value)]
    if not ok:
        return []
    if by is None:
        for cand in candidate_dimensions(ok):
            if cand == "run" and len({r["run_id"] for r in ok}) < 2:
                continue
            if len({dims(r, cand == "run").get(cand) for r in ok}) < 2:
                continue
            pairs = compare(ok, by=cand, confidence=confidence)
            if pairs:
                return pairs
        return []
    with_run = by == "run"
    values = []
    for r in ok:
        v = dims(r, with_run).get(by)
        if v is not None and v not in values:
            values.append(v)
    if by in NEVER_ACROSS:
        raise ConfigError(f"the comparison engine never compares across {NEVER_ACROSS[by]} (--by {by})")
    if not any(by in dims(r, with_run) for r in ok):
        raise ConfigError(f"cannot compare by {by!r}; dimensions here: {', '.join(dims(ok[0], with_run))}")
    base = baseline if baseline is not None else values[0]
    if base not in values:
        raise ConfigError(f"baseline {base!r} not among the values of {by}: {', '.join(values)}")
    all_dims = [dims(r, with_run) for r in ok]
    constant = {k for k in all_dims[0] if len({d.get(k) for d in all_dims}) == 1}
    groups = {}
    for r, d in zip(ok, all_dims):
        if by not in d:
            continue
        ctx = tuple((k, v) for k, v in d.items() if k != by and k not in constant and k not in TIED.get(by, ()))
        groups.setdefault((ctx, d[by]), []).append(r)
    pairs = []
    contexts = list(dict.fromkeys(ctx for ctx, _ in groups))
    for ctx in contexts:
        a_recs = groups.get((ctx, base))
        if not a_recs:
            continue
        for v in values:
            if v == base or (ctx, v) not in groups:
                continue
            b_recs = groups[(ctx, v)]
            h = headline(a_recs[0])
            res = welch([headline(r).value for r in a_recs], [headline(r).value for r in b_recs],
                        higher_is_better=h.higher_is_better, confidence=confidence,
                        min_effect_pct=min_effect(a_recs + b_recs), resolution_pct=resolution(a_recs + b_recs))
            pairs.append(Pair(by, base, v, dict(ctx), h.metric, h.unit, res, movers(a_recs, b_recs),
                              record_mode(a_recs[0]).name, function_changes(a_recs, b_recs)))
    return pairs


def _finite(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def min_effect(records):
    """The smallest change called significant: the largest of the records' modes' `min_effect_pct` (modes.py) and
    of what their testcase declares it can support in that mode (`min_effect:`, carried by each record)."""
    return max(max(record_mode(r).min_effect_pct, r["min_effect_pct"] if _finite(r.get("min_effect_pct")) else 0)
               for r in records)


def resolution(records):
    """The statistics floor of the records' modes: the smallest spread a repeat series can honestly show."""
    return max(record_mode(r).resolution_pct for r in records)


def movers(a_recs, b_recs, top=TOP_COUNTERS):
    """Counters (per packet) that moved: Welch per counter, the false discovery rate held at FDR_Q across all
    of them (Benjamini-Hochberg), and at least the mode's minimum effect; largest relative change first.
    Where the mode makes host time meaningless (instructions under icount), only counts of events are tried."""
    a_c = [record_per_packet(r) for r in a_recs]
    b_c = [record_per_packet(r) for r in b_recs]
    names = set().union(*a_c, *b_c) if a_c and b_c else set()
    if not all(record_mode(r).host_time_counters for r in a_recs + b_recs):
        names = {n for n in names if not is_host_time(n)}
    effect, floor = min_effect(a_recs + b_recs), resolution(a_recs + b_recs)
    tested, new = [], []
    for n in sorted(names):
        av = [c.get(n, 0.0) for c in a_c]
        bv = [c.get(n, 0.0) for c in b_c]
        if not any(av):  # from zero: moved when every B repeat counts some and every A repeat none (2+ each)
            if len(av) >= 2 and len(bv) >= 2 and min(bv) > 0:
                new.append((n, Comparison(summarize(av), summarize(bv), None, None, None, None, "new", False)))
            continue
        res = welch(av, bv, higher_is_better=True, min_effect_pct=effect, resolution_pct=floor)
        if res.p_value is not None:
            tested.append((n, res))
    keep = benjamini_hochberg([r.p_value for _, r in tested], FDR_Q)
    out = [(n, r) for i, (n, r) in enumerate(tested) if i in keep and abs(r.change_pct or 0) >= effect]
    out.sort(key=lambda x: -abs(x[1].change_pct or 0))
    return (sorted(new, key=lambda x: -x[1].b.median) + out)[:top]
