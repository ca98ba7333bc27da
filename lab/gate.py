"""The nightly gate: a verdict one can bet a merge on.

- A cell whose final attempt failed tonight is a functional failure.
- Tonight is compared with the last night that *passed* (never with a night that failed, so a regression
  stays flagged until it is fixed) and, for slow drift, with an older pinned night.
- Pairs are like with like: same kernel (by name; its content is what changes between nights), link,
  params, mode, accelerator and CPU model (results/compare.py never pools them).
- Only modes whose records are trustworthy on a shared machine gate by default (deterministic: instruction
  counts); wall-clock pairs are reported, and gate only on request. The gating pairs of a night are one
  family: Holm's correction holds the chance of any false REGRESSION at alpha, however many pairs there are.
"""
from dataclasses import asdict, dataclass, field

from .modes import MODES
from .results.compare import compare
from .results.rundir import final_attempts
from .results.stats import holm

ALPHA = 0.05
GATING_MODES = ("deterministic",)


@dataclass
class GateResult:
    ok: bool
    lines: list = field(default_factory=list)
    regressions: list = field(default_factory=list)

    def as_dict(self):
        return {"pass": self.ok, **asdict(self)}


def _ctx(p):
    return ", ".join(f"{k}={v}" for k, v in p.context.items())


def pairs_against(current, baseline):
    """A/B pairs (baseline -> tonight) with a computable change, like with like."""
    tagged = [dict(r, run_id="baseline") for r in baseline] + [dict(r, run_id="tonight") for r in current]
    return [p for p in compare(tagged, by="run", baseline="baseline") if p.result.change_pct is not None]


def gate(current, previous=None, pinned=None, gate_wallclock=False, alpha=ALPHA):
    """Judge tonight's records (`current`) against the last passing night's and a pinned older night's."""
    modes = tuple(MODES) if gate_wallclock else GATING_MODES
    res = GateResult(ok=True)
    for r in final_attempts(current).values():
        if r.get("kind") == "selftest":  # lab selftest: a failing kernel selftest fails the night, a skip does not
            if r["status"] == "fail":
                res.regressions.append(f"FAIL {r['testcase']}: {r['test']} on {r['kernel']['name']}")
            continue
        if r.get("status") != "ok":
            res.regressions.append(f"FAIL {r['testcase']} {r['link']} {r.get('params')} {r['kernel']['name']}: "
                                   f"{(r.get('error') or r.get('status')).splitlines()[0][:160]}")
    checks = []
    for label, base in (("previous", previous), ("pinned", pinned)):
        if base:
            checks += [(label, p) for p in pairs_against(current, base)]
        else:
            res.lines.append(f"no {label} night: that check is skipped")
    gating = [(label, p) for label, p in checks if p.mode in modes]
    rejected = holm([p.result.p_value if p.result.p_value is not None else 1.0 for _, p in gating], alpha)
    for i, (label, p) in enumerate(gating):
        r = p.result
        if r.verdict == "slower" and i in rejected:
            res.regressions.append(
                f"{'REGRESSION' if label == 'previous' else 'DRIFT'} vs {label} night: {p.metric} {_ctx(p)}: "
                f"{r.change_pct:+.2f}% [{r.ci_low_pct:+.2f}, {r.ci_high_pct:+.2f}] (p={r.p_value:.2g}, Holm over {len(gating)})")
        else:
            res.lines.append(f"ok vs {label}: {p.metric} {_ctx(p)}: {r.change_pct:+.2f}% {r.verdict}")
    for label, p in checks:
        if p.mode not in modes:
            res.lines.append(f"reported, not gated ({p.mode}) vs {label}: {p.metric} {_ctx(p)}: "
                             f"{p.result.change_pct:+.1f}% {p.result.verdict}" + (" (noisy)" if p.result.noisy else ""))
    res.ok = not res.regressions
    res.lines = res.regressions + res.lines
    return res
