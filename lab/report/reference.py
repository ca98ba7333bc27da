"""Our ratios beside published ones (a testcase's `reference:`).

A kernel is a published variant by what it is, not by its name: its patches and extra kconfig fragments
by content (lab/kernel/build.py:variant), whichever source it was built from. Only records of the context
the figures were published for count (seed 003's are virtio-net's: e1000e never takes the page path).
Ratios are of rates (pps, Gbit/s, packets per CPU second), as published; medians are shown in the
records' headline unit (instructions per packet in deterministic mode).
"""
import statistics

from ..hashing import file_sha256
from ..kernel.patches import load_series
from ..match import matches
from ..paths import ROOT
from ..results.compare import dims
from ..results.headline import headline
from .table import grid


def variant_identity(spec, root=ROOT):
    """{"patches": [sha256...], "fragments": [sha256...]} of a reference variant {patches: [series],
    kconfig: [name]}."""
    patches = [file_sha256(p) for s in spec.get("patches", []) for p in load_series(root / "patches" / s)]
    frags = sorted(file_sha256(root / "kconfigs" / f"{name}.config") for name in spec.get("kconfig", []))
    return {"patches": patches, "fragments": frags}


def variant_of(rec, identities):
    v = (rec.get("kernel") or {}).get("variant")
    return next((name for name, ident in identities.items() if v == ident), None)


def in_context(rec, context):
    params = {k: str(v) for k, v in rec.get("params", {}).items()}
    fields = {"nic_model": rec.get("nic_model"), "link": rec.get("link"), **params}
    return matches(fields, context)


def reference_rows(records, ref, root=ROOT):
    """Rows: context, axis value, A and B variants, their medians (headline unit), B/A rate ratio ours and theirs,
    and the published row compared with."""
    identities = {name: variant_identity(spec, root) for name, spec in ref["variants"].items()}
    base, axis = ref["baseline"], ref["axis"]
    groups = {}
    for r in records:
        if r.get("status") != "ok" or not in_context(r, ref.get("context", {})):
            continue
        var = variant_of(r, identities)
        d = dims(r)
        if var is None or axis not in d:
            continue
        ctx = tuple((k, v) for k, v in d.items() if k not in ("kernel", "kernel_id", axis))
        groups.setdefault((ctx, d[axis], var), []).append(r)
    theirs = {str(k): v for k, v in ref["ratios"].items()}
    rows = []
    for (ctx, ax, var), recs in groups.items():
        if var == base or (ctx, ax, base) not in groups:
            continue
        a_recs = groups[(ctx, ax, base)]
        rate = lambda rs: statistics.median(r["value"] for r in rs)
        rows.append({"context": dict(ctx), axis: ax, "a": base, "b": var, "unit": headline(recs[0]).unit,
                     "a_median": statistics.median(headline(r).value for r in a_recs),
                     "b_median": statistics.median(headline(r).value for r in recs),
                     "ours": rate(recs) / rate(a_recs) if rate(a_recs) else None, "theirs": theirs.get(str(ax)),
                     "published": f"{var} vs {base} at {axis} {ax}: {theirs[str(ax)]:.3f}" if str(ax) in theirs
                     else "-",
                     "n": (len(a_recs), len(recs))})
    num = lambda v: float(v) if str(v).replace(".", "", 1).isdigit() else v
    rows.sort(key=lambda r: ([str(v) for v in r["context"].values()], num(r[axis])))
    return rows


def render_reference(records, ref, root=ROOT):
    rows = reference_rows(records, ref, root)
    if not rows:
        return ""
    axis = ref["axis"]
    body = [[" ".join(f"{k}={v}" for k, v in r["context"].items()), str(r[axis]), f"{r['a_median']:.4g}",
             f"{r['b_median']:.4g}", r["unit"], "-" if r["ours"] is None else f"{r['ours']:.3f}",
             "-" if r["theirs"] is None else f"{r['theirs']:.3f}"] for r in rows]
    head = ["context", axis, f"A ({rows[0]['a']})", f"B ({rows[0]['b']})", "unit", "B/A here", "B/A published"]
    ctx = ", ".join(f"{k}={v}" for k, v in ref.get("context", {}).items())
    title = f"beside {ref['source']}" + (f" (published for {ctx})" if ctx else "")
    return title + ":\n" + grid(head, body, right={1, 2, 3, 5, 6})
