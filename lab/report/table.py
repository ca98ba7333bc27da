"""A compact plain-text table of a run's results, readable at 100 columns."""
import statistics

from ..modes import record_mode
from ..results import stats

KEY_COUNTERS = ["net:net_dev_xmit/pkt", "net:netif_receive_skb/pkt", "cpu-ns/pkt", "bytes/pkt", "sender-cpu-ns/pkt"]


def group_key(rec):
    return (rec.get("kernel", {}).get("name", "?"), rec["link"], tuple(sorted(rec.get("params", {}).items())))


def table_rows(records):
    """Per (kernel, link, params): n, median, CV %, and medians of key derived counters."""
    groups = {}
    for r in records:
        groups.setdefault(group_key(r), []).append(r)
    rows = []
    for (kname, link, params), recs in groups.items():
        ok = [r for r in recs if r.get("status") == "ok"]
        s = stats.summarize([r["value"] for r in ok])
        row = {"kernel": kname, "link": link, "params": dict(params), "n": s.n, "failed": len(recs) - len(ok),
               "unit": recs[0].get("unit", ""), "median": s.median, "cv_pct": s.cv_pct}
        for c in KEY_COUNTERS:
            xs = [r["derived"][c] for r in ok if r.get("derived", {}).get(c) is not None]
            row[c] = statistics.median(xs) if xs else None
        row["tx_packets"] = statistics.median([r["derived"]["tx_packets"] for r in ok]) if ok else None
        rows.append(row)
    return rows


def _f(v, fmt="{:.4g}"):
    return "-" if v is None else fmt.format(v)


def render_table(records):
    rows = table_rows(records)
    if not rows:
        return "(no results)"
    # the sender's own CPU time where the workload measures it (xsk_tx -p); under icount: instructions
    det = all(not record_mode(r).host_time_counters for r in records)
    head = ["kernel", "link", "params", "n", "median", "unit", "CV%", "tx pkts", "xmit/pkt", "rcv/pkt",
            "insn/pkt" if det else "cpu ns/pkt"]
    body = []
    for r in rows:
        params = ",".join(f"{k}={v}" for k, v in r["params"].items()) or "-"
        body.append([r["kernel"][:18], r["link"], params[:22], f"{r['n']}" + (f"+{r['failed']}F" if r["failed"] else ""),
                     _f(r["median"]), r["unit"], _f(r["cv_pct"], "{:.1f}"), _f(r["tx_packets"], "{:.0f}"),
                     _f(r["net:net_dev_xmit/pkt"], "{:.3f}"), _f(r["net:netif_receive_skb/pkt"], "{:.3f}"),
                     _f(r["sender-cpu-ns/pkt"] if r["sender-cpu-ns/pkt"] is not None else r["cpu-ns/pkt"], "{:.0f}")])
    widths = [max(len(str(x[i])) for x in [head] + body) for i in range(len(head))]
    line = lambda cells: "  ".join(str(c).ljust(w) if i < 3 or i == 5 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(head), "  ".join("-" * w for w in widths)] + [line(b) for b in body])
