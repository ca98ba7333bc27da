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
from collections import Counter
from dataclasses import asdict, dataclass, field

from .modes import MODES
from .results.compare import compare
from .results.rundir import final_attempts
from .results.stats import holm
from .results.streaks import update_streaks

ALPHA = 0.05


@dataclass
class GateResult:
    ok: bool
    lines: list = field(default_factory=list)
    regressions: list = field(default_factory=list)
    regressed: list = field(default_factory=list)  # the cells slower than the last passing night: pairs' contexts
    bisects: list = field(default_factory=list)    # what `lab gate --bisect` found for them (lab/bisect.py)
    streaks: dict | None = None  # kernel selftests' streaks over nights (results/streaks.py), with --history

    def as_dict(self):
        return {"pass": self.ok, **asdict(self)}


def _ctx(p):
    return ", ".join(f"{k}={v}" for k, v in p.context.items())


def pairs_against(current, baseline):
    """A/B pairs (baseline -> tonight) with a computable change, like with like."""
    tagged = [dict(r, run_id="baseline", origin_run=r.get("run_id")) for r in baseline] + \
             [dict(r, run_id="tonight", origin_run=r.get("run_id")) for r in current]
    return [p for p in compare(tagged, by="run", baseline="baseline") if p.result.change_pct is not None]


def cell_key(r):
    """A cell as nights know it: testcase, kernel name, link, params, mode."""
    return (r.get("testcase"), (r.get("kernel") or {}).get("name"), r.get("link"),
            tuple(sorted((k, str(v)) for k, v in (r.get("params") or {}).items())), r.get("mode"),
            r.get("repeat_index"))


def run_problems(runs, records, previous=None, runs_log=()):
    """Why tonight's runs cannot be judged whole: a run that failed, was interrupted or still runs; fewer records
    than planned; a cell of the last passing night missing tonight; a `lab run` that exited with an error
    (`runs_log`: (testcase path, mode, exit status) as scripts/nightly.sh records them) without a run dir."""
    out = []
    final = list(final_attempts(records).values())
    by_run = Counter(r.get("run_id") for r in final)
    for path, m in runs:
        status, planned = m.get("status"), (m.get("testcase") or {}).get("planned")
        if status in ("failed", "interrupted", "running"):
            out.append(f"FAIL run {path}: {status}" + (f" ({str(m.get('error')).splitlines()[0][:160]})"
                                                       if m.get("error") else ""))
        if isinstance(planned, int) and by_run.get(m.get("id"), 0) < planned:
            out.append(f"FAIL run {path}: {by_run.get(m.get('id'), 0)} of {planned} planned cells have a record")
    if previous:
        tonight = {cell_key(r) for r in final}
        gone = sorted({cell_key(r) for r in final_attempts(previous).values()} - tonight, key=str)
        out += [f"FAIL missing tonight (measured last night): {k[0]} {k[2]} {dict(k[3])} {k[1]} {k[4]} repeat {k[5]}"
                for k in gone]
    have = {((m.get("testcase") or {}).get("path"), m.get("mode")) for _, m in runs}
    for tc, mode, rc in runs_log:
        if rc >= 2 or (rc != 0 and (tc, mode) not in have):
            no_dir = "" if (tc, mode) in have else ": no run dir"
            out.append(f"FAIL lab run {tc} ({mode}) exited with status {rc}{no_dir}")
    if not records and not out:
        out.append("FAIL nothing was measured tonight")
    return out


def gate(current, previous=None, pinned=None, gate_wallclock=False, alpha=ALPHA, runs=(), runs_log=(), streaks=None):
    """Judge tonight's records (`current`, from `runs`: [(path, manifest)]) against the last passing night's and a
    pinned older night's. A night that cannot be judged whole fails (run_problems). Kernel selftests: with the
    last night's `streaks`, by NIPA's stability rule (results/streaks.py); without, every failure fails."""
    modes = tuple(m.name for m in MODES.values() if m.gates or gate_wallclock)
    res = GateResult(ok=True)
    res.regressions += run_problems(runs, current, previous, runs_log) if (runs or runs_log) else []
    if streaks is not None:
        res.streaks, notes, failing = update_streaks(streaks, final_attempts(current).values())
        res.regressions += failing
        res.lines += notes
    for r in final_attempts(current).values():
        if r.get("kind") == "selftest" and streaks is not None:
            continue
        if r.get("kind") == "selftest":  # lab selftest: a failing kernel selftest fails the night; a skip or a flaky
            # one (failed, passed on its retry) does not
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
            if label == "previous":
                res.regressed.append(dict(p.context))
            res.regressions.append(
                f"{'REGRESSION' if label == 'previous' else 'DRIFT'} vs {label} night: {p.metric} {_ctx(p)}: "
                f"{r.change_pct:+.2f}% [{r.ci_low_pct:+.2f}, {r.ci_high_pct:+.2f}] (p={r.p_value:.2g}, Holm over "
                f"{len(gating)})")
        elif r.verdict == "insufficient data":
            res.lines.append(f"insufficient data vs {label} (no verdict; --repeat 2 or more): {p.metric} {_ctx(p)}: "
                             f"{r.change_pct:+.2f}%")
        else:
            res.lines.append(f"ok vs {label}: {p.metric} {_ctx(p)}: {r.change_pct:+.2f}% {r.verdict}")
    for label, p in checks:
        if p.mode not in modes:
            res.lines.append(f"reported, not gated ({p.mode}) vs {label}: {p.metric} {_ctx(p)}: "
                             f"{p.result.change_pct:+.1f}% {p.result.verdict}" + (" (noisy)" if p.result.noisy else ""))
    res.ok = not res.regressions
    res.lines = res.regressions + res.lines
    return res
