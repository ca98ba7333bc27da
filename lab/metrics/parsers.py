"""Workload output parsers: a run step's stdout -> {"value": metric, ...extras}. Few and named."""
import json

from ..errors import LabError


def _last_json(stdout):
    """The last top-level JSON document in stdout (iperf3 -J prints one, our tools print one line)."""
    text = stdout.strip()
    start = text.rfind("\n{") + 1 if not text.startswith("{") or text.count("\n{") else 0
    for cand in (text, text[start:]):
        try:
            return json.loads(cand)
        except json.JSONDecodeError:
            continue
    raise LabError(f"workload printed no JSON; last output:\n{stdout[-800:]}")


def iperf3(stdout):
    """iperf3 -J: receiver Gbit/s for TCP (sum_received), for UDP the server-side sum."""
    d = _last_json(stdout)
    if "error" in d:
        raise LabError(f"iperf3: {d['error']}")
    end = d.get("end", {})
    proto = d.get("start", {}).get("test_start", {}).get("protocol", "TCP")
    if proto == "UDP":
        s = end.get("sum_received") or end.get("sum")
        if not s or "bits_per_second" not in s:
            raise LabError(f"iperf3: no received sum for UDP (the server reported nothing): {sorted(end)}")
        out = {"value": s["bits_per_second"] / 1e9, "bytes": s.get("bytes", 0),
               "packets": s.get("packets"), "lost_packets": s.get("lost_packets"),
               "lost_percent": s.get("lost_percent")}
    else:
        r, s = end.get("sum_received"), end.get("sum_sent", {})
        if not r or "bits_per_second" not in r:
            raise LabError(f"iperf3: no received sum (the receiver reported nothing, not 0 Gbit/s): {sorted(end)}")
        out = {"value": r["bits_per_second"] / 1e9, "bytes": r.get("bytes", 0), "retransmits": s.get("retransmits")}
    cpu = end.get("cpu_utilization_percent", {})
    out.update(protocol=proto, seconds=end.get("sum_sent", end.get("sum", {})).get("seconds"),
               cpu_sender_pct=cpu.get("host_total"), cpu_receiver_pct=cpu.get("remote_total"))
    return out


def json_line(stdout):
    """Our own tools: the last JSON line must hold "value" (and may hold more)."""
    d = _last_json(stdout)
    if "value" not in d:
        raise LabError(f"workload JSON has no 'value': {d}")
    return d


def pktgen(stdout):
    """/proc/net/pktgen/<dev> after a run: 'Result: OK: <usec>(...) usec, <n> (<size>byte,<frags>frags)'
    + '<pps>pps'."""
    import re
    m = re.search(r"Result: OK: (\d+)\(.*?\) usec, (\d+) \((\d+)byte,(\d+)frags\)\s*\n\s*(\d+)pps (\d+)Mb/sec", stdout)
    if not m:
        r = re.search(r"Result: (.*)", stdout)
        raise LabError(f"pktgen: no result ({r.group(1) if r else 'no Result line'})\n{stdout[-600:]}")
    usec, sent, size, frags, pps, mbps = (int(x) for x in m.groups())
    errors = re.search(r"errors: (\d+)", stdout)
    return {"value": float(pps), "packets": sent, "size": size, "usec": usec, "mbps": mbps,
            "errors": int(errors.group(1)) if errors else None}


PARSERS = {"iperf3": iperf3, "json": json_line, "pktgen": pktgen}
