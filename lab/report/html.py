"""`lab report`: one self-contained HTML file from any set of run dirs (merged), via a jinja2 template."""
import json
import os
from pathlib import Path

import jinja2

from .. import __version__
from ..errors import ConfigError
from ..modes import DEFAULT, MODES
from ..results.compare import compare, dims
from ..results.functions import MIN_INSN
from ..results.headline import headline
from ..results.rundir import load_runs
from ..results.stats import summarize
from ..results.streaks import STABLE, streak_key, streaks_over
from .reference import reference_rows
from .svg import bar_chart, forest_plot, line_chart

TEMPLATES = Path(__file__).resolve().parent / "templates"


def comparability(runs):
    """Runs are comparable only with the same accel, mode and host class; say which differ."""
    keys = {}
    for rd in runs:
        m = rd.manifest
        host = m.get("host", {})
        cls = (m.get("accel"), m.get("mode", DEFAULT.name), host.get("host_machine"), host.get("host_cpus"))
        keys.setdefault(cls, []).append(rd.id)
    if len(keys) <= 1:
        return None
    return "; ".join(f"accel {c[0]}, {c[1]} mode, {c[2]} with {c[3]} CPUs: {len(ids)} run{'s' if len(ids) > 1 else ''}"
                     for c, ids in keys.items())


def group_label(rec, varying):
    """The record's dimension values that vary across the report (constant ones say nothing)."""
    d = dims(rec)
    return " ".join(f"{k}={v}" if k not in ("kernel", "link") else str(v) for k, v in d.items()
                    if k in varying and k not in ("testcase", "kernel_id")) or rec["link"]


def varying_dims(recs):
    all_dims = [dims(r) for r in recs]
    keys = list(dict.fromkeys(k for d in all_dims for k in d))
    return {k for k in keys if len({d.get(k) for d in all_dims}) > 1}


def _groups(items, key):
    out = {}
    for it in items:
        out.setdefault(key(it), []).append(it)
    return out


def function_plot(p, top=15):
    """Where a pair's change in instructions per packet lives: each function that moved, the rest, the total."""
    if not p.functions:
        return ""
    f = p.functions
    shown = f["functions"][:top]
    rest = f["folded"].delta + sum(c.delta for c in f["functions"][top:])
    word = lambda d: "more" if d > 0 else "fewer"
    rows = [(c.name, c.delta, c.low, c.high, word(c.delta)) for c in shown]
    rows += [(f["folded"].name, rest, None, None, "folded"),
             ("total (the headline)", f["total"].delta, f["total"].low, f["total"].high, word(f["total"].delta))]
    if f.get("history"):
        h = f["history"]
        rows.append((h.name, h.delta, h.low, h.high, "folded"))
    return forest_plot(rows, "where the instructions went, "
                             f"{' '.join(f'{k}={v}' for k, v in p.context.items() if k != 'testcase')} "
                       f"{p.a} → {p.b} (instructions per packet per function; red: more, green: fewer; shaded: under "
                       f"{MIN_INSN:g}, folded)", MIN_INSN, unit=" insn")


def testcase_section(name, recs, multi_run, by, references):
    """One testcase: its A/B pairs (forest plot per mode, threshold = the mode's minimum effect), bars and history
    by headline (instructions per packet never share an axis with a rate), and references."""
    try:
        pairs = compare(recs, by=by)
    except ConfigError:
        pairs = []  # `--by` names a dimension this testcase does not have
    varying = varying_dims(recs)
    label = lambda p: " ".join(f"{k}={v}" for k, v in p.context.items() if k != "testcase") + f"  → {p.b}"
    forests = [forest_plot([(label(p), p.result.change_pct, p.result.ci_low_pct, p.result.ci_high_pct, p.result.verdict)
                            for p in ps], f"{name}: {ps[0].metric} ({ps[0].unit}), change of each {ps[0].dimension} vs "
                            f"{ps[0].a} ({mode} mode; 95 % Welch interval; shaded: |change| < "
                            f"{MODES[mode].min_effect_pct:g} %, never a verdict)", MODES[mode].min_effect_pct)
               for (mode, _), ps in _groups(pairs, lambda p: (p.mode, p.a)).items()]
    charts, history = [], []
    for (metric, unit), rs in _groups(recs, lambda r: (headline(r).metric, headline(r).unit)).items():
        groups = _groups(rs, lambda r: group_label(r, varying))
        bars = []
        for lab, grp in groups.items():
            st = summarize([headline(r).value for r in grp])
            bars.append((f"{lab} (n={st.n})", st.median, st.min, st.max, grp[0]["link"]))
        charts.append(bar_chart(bars, unit, f"{name}: {metric}"))
        if multi_run:
            run_start = {}
            for r in rs:  # a run is one point, at its first measurement
                run_start[r["run_id"]] = min(run_start.get(r["run_id"], r["started"]), r["started"])
            x = lambda r, run_start=run_start: run_start[r["run_id"]][:16] + " " + r["run_id"][-4:]
            series = {lab: sorted((k, summarize([headline(r).value for r in v]).median)
                                  for k, v in _groups(grp, x).items())
                      for lab, grp in groups.items()}
            history.append(line_chart(series, unit, f"{name}: {metric} over runs (median per run)"))
    refs = []
    for ref in references:
        rows = reference_rows(recs, ref)
        if rows:
            refs.append({"source": ref["source"], "axis": ref["axis"], "rows": rows,
                         "context": ", ".join(f"{k}={v}" for k, v in ref.get("context", {}).items())})
    return {"name": name, "pairs": [dict(p.as_dict(), function_plot=function_plot(p)) for p in pairs],
            "forests": [f for f in forests if f],
            "charts": charts, "history": [h for h in history if h], "references": refs}


def build_context(runs, recs, out_path, by=None):
    selftests = [r for r in recs if r.get("kind") == "selftest"]  # lab selftest: pass/fail/skip, no measurement
    recs = [r for r in recs if r.get("kind") != "selftest"]
    ok = [r for r in recs if r.get("status") == "ok"]
    refs = {}  # testcase -> its validated reference, as the runner recorded it in the manifest
    for rd in runs:
        if rd.manifest.get("reference"):
            refs.setdefault(rd.manifest.get("testcase", {}).get("name"), rd.manifest["reference"])
    sections = [testcase_section(name, rs, len(runs) > 1, by, [refs[name]] if name in refs else [])
                for name, rs in _groups(ok, lambda r: r["testcase"]).items()]
    out_dir = Path(out_path).resolve().parent
    run_info = []
    for rd in runs:
        m = rd.manifest
        run_info.append({"id": rd.id, "manifest": m, "console": os.path.relpath(rd.console_log, out_dir),
                         "results": os.path.relpath(rd.path / "results.jsonl", out_dir),
                         "kernels": m.get("kernels") or ([m["kernel"]] if m.get("kernel") else []),
                         "qemu_argv": " ".join(m.get("qemu_argv", [])), "status": m.get("status")})
    failures = [r for r in recs if r.get("status") != "ok"]
    fingerprints = {}
    for r in failures:
        if r.get("fingerprint"):
            fingerprints[r["fingerprint"]] = fingerprints.get(r["fingerprint"], 0) + 1
    return {"version": __version__, "sections": sections, "runs": run_info, "records": recs, "n_ok": len(ok),
            "selftests": selftests, "streaks": streaks_over(selftests), "streak_key": streak_key, "stable": STABLE,
            "failures": failures, "fingerprints": fingerprints, "comparability": comparability(runs),
            "testcases": sorted({r["testcase"] for r in recs}), "headline": headline, "json": json,
            "min_effects": ", ".join(f"{m.min_effect_pct:g} % {m.name}" for m in MODES.values())}


def render_report(paths, out_path, by=None):
    runs, recs = load_runs(paths)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["g"] = lambda v: "-" if v is None else f"{v:.4g}"
    env.filters["pct"] = lambda v: "-" if v is None else f"{v:+.1f}%"
    html = env.get_template("report.html.j2").render(**build_context(runs, recs, out_path, by))
    Path(out_path).write_text(html)
    return out_path
