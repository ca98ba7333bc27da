"""Our ratios beside published ones: for each value of the reference axis and each other dimension,
median(B)/median(A) next to the seed's ratio (testcase `reference:`)."""
import statistics

from ..results.compare import dims


def reference_rows(records, ref):
    """[{context, axis value, A median, B median, ours, theirs, n}] for every variant of ref['by'] vs its baseline."""
    ok = [r for r in records if r.get("status") == "ok"]
    by, base, axis = ref["by"], ref["baseline"], ref["axis"]
    groups = {}
    for r in ok:
        d = dims(r)
        if by not in d or axis not in d:
            continue
        ctx = tuple((k, v) for k, v in d.items() if k not in (by, axis))
        groups.setdefault((ctx, d[axis], d[by]), []).append(r["value"])
    rows = []
    theirs = {str(k): v for k, v in ref["ratios"].items()}
    for (ctx, ax, variant), vals in groups.items():
        if variant == base or (ctx, ax, base) not in groups:
            continue
        a = statistics.median(groups[(ctx, ax, base)])
        b = statistics.median(vals)
        rows.append({"context": dict(ctx), axis: ax, "a": base, "b": variant, "a_median": a, "b_median": b,
                     "ours": b / a if a else None, "theirs": theirs.get(str(ax)),
                     "n": (len(groups[(ctx, ax, base)]), len(vals))})
    rows.sort(key=lambda r: (list(r["context"].values()), float(r[axis]) if str(r[axis]).replace(".", "").isdigit() else r[axis]))
    return rows


def render_reference(records, ref):
    rows = reference_rows(records, ref)
    if not rows:
        return ""
    axis = ref["axis"]
    lines = [f"beside {ref['source']}:", f"{'context':16s} {axis:>6s}  {'A (' + rows[0]['a'] + ')':>22s}  "
             f"{'B (' + rows[0]['b'] + ')':>14s}  {'B/A ours':>8s}  {'B/A seed':>8s}"]
    for r in rows:
        ctx = ",".join(str(v) for v in r["context"].values())
        ours = "-" if r["ours"] is None else f"{r['ours']:.3f}"
        theirs = "-" if r["theirs"] is None else f"{r['theirs']:.3f}"
        lines.append(f"{ctx:16s} {str(r[axis]):>6s}  {r['a_median']:22.4g}  {r['b_median']:14.4g}  {ours:>8s}  {theirs:>8s}")
    return "\n".join(lines)
