"""Plain-text tables for the terminal: a run's cells, and A/B pairs with their verdicts.

Nothing is cut: a column is as wide as its widest value, so two rows never read alike (a kernel name or a
params string truncated at a fixed width made different cells indistinguishable). Values come from the
record's headline (results/headline.py): instructions per packet in deterministic mode.
"""
import statistics

from ..modes import MODES, record_mode
from ..results import stats
from ..results.headline import headline

KEY_COUNTERS = ["net:net_dev_xmit/pkt", "net:netif_receive_skb/pkt", "cpu-ns/pkt", "bytes/pkt"]


def group_key(rec):
    return ((rec.get("kernel") or {}).get("name", "?"), rec["link"], tuple(rec.get("params", {}).items()),
            record_mode(rec).name)


def table_rows(records):
    """Per (kernel, link, params, mode): n, headline median and CV %, medians of key derived counters."""
    groups = {}
    for r in records:
        groups.setdefault(group_key(r), []).append(r)
    rows = []
    for (kname, link, params, mode), recs in groups.items():
        ok = [r for r in recs if r.get("status") == "ok"]
        s = stats.summarize([headline(r).value for r in ok])
        h = headline(ok[0] if ok else recs[0])
        row = {"kernel": kname, "link": link, "params": dict(params), "mode": mode, "n": s.n,
               "failed": len(recs) - len(ok), "unit": h.unit, "median": s.median, "cv_pct": s.cv_pct}
        for c in KEY_COUNTERS:
            xs = [r["derived"][c] for r in ok if r.get("derived", {}).get(c) is not None]
            row[c] = statistics.median(xs) if xs else None
        row["tx_packets"] = statistics.median([r["derived"]["tx_packets"] for r in ok]) if ok else None
        rows.append(row)
    return rows


def _f(v, fmt="{:.4g}"):
    return "-" if v is None else fmt.format(v)


def grid(head, body, right=()):
    """Columns as wide as their widest cell; columns in `right` right-aligned."""
    widths = [max(len(str(x[i])) for x in [head] + body) for i in range(len(head))]
    line = lambda cells: "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w)
                                   for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    return "\n".join([line(head), "  ".join("-" * w for w in widths)] + [line(b) for b in body])


def render_table(records):
    rows = table_rows(records)
    if not rows:
        return "(no results)"
    head = ["kernel", "link", "params", "n", "median", "unit", "CV%", "tx pkts", "xmit/pkt", "rcv/pkt", "cpu ns/pkt"]
    body = []
    for r in rows:
        params = ",".join(f"{k}={v}" for k, v in r["params"].items()) or "-"
        cpu = r["cpu-ns/pkt"] if MODES[r["mode"]].host_time_counters else None  # host time: not under icount
        body.append([r["kernel"], r["link"], params, f"{r['n']}" + (f"+{r['failed']}F" if r["failed"] else ""),
                     _f(r["median"]), r["unit"], _f(r["cv_pct"], "{:.1f}"), _f(r["tx_packets"], "{:.0f}"),
                     _f(r["net:net_dev_xmit/pkt"], "{:.3f}"), _f(r["net:netif_receive_skb/pkt"], "{:.3f}"),
                     _f(cpu, "{:.0f}")])
    return grid(head, body, right={3, 4, 6, 7, 8, 9, 10})


def render_functions(p, top=12):
    """Where a pair's change in instructions per unit (packet, datagram, KiB) lives, per kernel function; the rows
    sum to the total."""
    f = p.functions
    ci = lambda c: "-" if c.low is None else f"[{c.low:+.1f}, {c.high:+.1f}]"
    rows = [[c.name, f"{c.a:.1f}", f"{c.b:.1f}", f"{c.delta:+.1f}", ci(c)] for c in f["functions"][:top]]
    rest = f["folded"].delta + sum(c.delta for c in f["functions"][top:])
    rows.append([f"{f['folded'].name} ({len(f['functions'][top:])} more moved)" if f["functions"][top:]
                 else f["folded"].name,
                 "", "", f"{rest:+.1f}", "-"])
    rows.append(["total (the headline)", f"{f['total'].a:.1f}", f"{f['total'].b:.1f}", f"{f['total'].delta:+.1f}",
                 ci(f["total"])])
    if f.get("history"):
        h = f["history"]
        rows.append([h.name, f"{h.a:.1f}", f"{h.b:.1f}", f"{h.delta:+.1f}", ci(h)])
    ctx = " ".join(f"{k}={v}" for k, v in p.context.items())
    return (f"where the instructions went, {ctx} {p.a} -> {p.b} ({p.metric}):\n"
            + grid(["function", "A", "B", "change", "95% CI"], rows, right={1, 2, 3}))


def render_pairs(pairs):
    """A/B pairs with verdicts, then the counters that moved; nothing cut."""
    if not pairs:
        return "(nothing to compare: need at least two variants of one dimension with ok results)"
    head = ["context", "A -> B", "A med", "B med", "unit", "change", "95% CI (Welch)", "verdict"]
    body = []
    for p in pairs:
        r = p.result
        ctx = " ".join(f"{k}={v}" for k, v in p.context.items()) or "-"
        ci = "-" if r.ci_low_pct is None else f"[{r.ci_low_pct:+.1f}, {r.ci_high_pct:+.1f}]%"
        body.append([ctx, f"{p.a} -> {p.b}", _f(r.a.median), _f(r.b.median), p.unit,
                     "-" if r.change_pct is None else f"{r.change_pct:+.1f}%", ci,
                     r.verdict + (" (noisy)" if r.noisy else "")])
    lines = [grid(head, body, right={2, 3, 5})]
    moved = [f"  {' '.join(f'{k}={v}' for k, v in p.context.items())} {p.a} -> {p.b}: " + "; ".join(
        f"{n} {c.a.median:.3g} -> {c.b.median:.3g} ("
        + ("new" if c.change_pct is None else f"{c.change_pct:+.0f}%") + ")" for n, c in p.counters[:4])
        for p in pairs if p.counters]
    if moved:
        lines += ["", "counters that moved (per packet; false discovery rate 5 %):"] + moved
    for p in pairs:
        if p.functions:
            lines += ["", render_functions(p)]
    effects = "; ".join(f"{m.min_effect_pct:g}% in {m.name} mode" for m in MODES.values())
    lines += ["", f"verdict: the 95% Welch CI of the change excludes 0 and |change| >= the mode's minimum effect "
              f"({effects}); noisy: CV > {stats.NOISY_CV_PCT:.0f}% on either side"]
    return "\n".join(lines)
