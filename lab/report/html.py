"""`lab report`: one self-contained HTML file from any set of run dirs (merged), via a jinja2 template."""
import json
import os
from pathlib import Path

import jinja2
import yaml

from .. import __version__
from ..modes import DEFAULT
from ..results.compare import compare, dims
from ..results.rundir import load_runs
from ..results.stats import summarize
from .reference import reference_rows
from .svg import bar_chart, line_chart

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
    return "; ".join(f"accel={c[0]} mode={c[1]} host={c[2]}/{c[3]} cpus: {', '.join(ids)}" for c, ids in keys.items())


def group_label(rec, varying):
    """The record's dimension values that vary across the report (constant ones say nothing)."""
    d = dims(rec)
    return " ".join(f"{k}={v}" if k not in ("kernel", "link") else str(v) for k, v in d.items() if k in varying) or rec["link"]


def varying_dims(recs):
    all_dims = [dims(r) for r in recs]
    keys = list(dict.fromkeys(k for d in all_dims for k in d))
    return {k for k in keys if len({d.get(k) for d in all_dims}) > 1}


def build_context(runs, recs, out_path, by=None):
    ok = [r for r in recs if r.get("status") == "ok"]
    multi_run = len(runs) > 1
    pairs = compare(recs, by=by) if ok else []
    metrics = {}
    varying = varying_dims(ok)
    for r in ok:
        metrics.setdefault((r["metric"], r["unit"]), {}).setdefault(group_label(r, varying), []).append(r)
    charts = []
    for (metric, unit), groups in metrics.items():
        bars = []
        for label, rs in groups.items():
            s = summarize([r["value"] for r in rs])
            bars.append((f"{label} (n={s.n})", s.median, s.min, s.max, rs[0]["link"]))
        charts.append(bar_chart(bars, unit, f"{metric}"))
    history = []
    if multi_run:
        for (metric, unit), groups in metrics.items():
            series = {}
            for label, rs in groups.items():
                by_run = {}
                for r in rs:
                    by_run.setdefault(r["started"][:16] + " " + r["run_id"][-4:], []).append(r["value"])
                series[label] = sorted((k, summarize(v).median) for k, v in by_run.items())
            chart = line_chart(series, unit, f"{metric} over runs (median per run)")
            if chart:
                history.append(chart)
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
    references = []
    for rd in runs:
        ref = (yaml.safe_load(rd.manifest.get("testcase", {}).get("text") or "{}") or {}).get("reference")
        if ref and all(k in ref for k in ("by", "baseline", "axis", "ratios", "source")):
            rows = reference_rows(recs, ref)
            if rows and ref["source"] not in [r["source"] for r in references]:
                references.append({"source": ref["source"], "axis": ref["axis"], "rows": rows})
    return {"version": __version__, "references": references, "runs": run_info, "pairs": [p.as_dict() for p in pairs], "charts": charts,
            "history": history, "records": recs, "n_ok": len(ok), "failures": failures, "fingerprints": fingerprints,
            "comparability": comparability(runs), "testcases": sorted({r["testcase"] for r in recs}),
            "json": json}


def render_report(paths, out_path, by=None):
    runs, recs = load_runs(paths)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters["g"] = lambda v: "-" if v is None else f"{v:.4g}"
    env.filters["pct"] = lambda v: "-" if v is None else f"{v:+.1f}%"
    html = env.get_template("report.html.j2").render(**build_context(runs, recs, out_path, by))
    Path(out_path).write_text(html)
    return out_path
