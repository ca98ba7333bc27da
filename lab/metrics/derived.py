"""Per-packet normalisation (the one home) and the testcase expectations judged on it.

What explains a change is often a count per packet. Packets are the sender NIC's tx_packets
(a GSO superpacket on virtio counts once).
"""
from ..match import matches
from ..modes import record_mode

PACKETS = "a.link.tx_packets"
NOT_A_COUNT = {"cpu-clock"}  # perf's cpu-clock is a time (msec), not an event count


def packets(counters):
    return (counters or {}).get(PACKETS) or 0


def per_packet(values, pkts):
    """{name/pkt: value / pkts} for every numeric count in `values` (counters or perf events)."""
    if not pkts:
        return {}
    return {f"{k}/pkt": v / pkts for k, v in (values or {}).items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in NOT_A_COUNT}


def derived(counters, perf, value):
    """What a record stores beside its raw counters: packets, guest CPU use, perf events and costs per packet."""
    pkts = packets(counters)
    out = {"tx_packets": pkts, "rx_packets": counters.get("b.link.rx_packets")}
    ticks = {k[5:]: v for k, v in counters.items() if k.startswith("stat.")}
    total = sum(ticks.values())
    busy = total - ticks.get("idle", 0) - ticks.get("iowait", 0) if total else None
    if total:
        out["cpu_busy_pct"] = round(100 * busy / total, 1)
        out["softirq_pct"] = round(100 * ticks.get("softirq", 0) / total, 1)
    if pkts:
        out.update({k: round(v, 4) for k, v in per_packet(perf, pkts).items()})
        if busy is not None:
            out["cpu-ns/pkt"] = round(busy * 1e7 / pkts, 1)  # ticks are 1/100 s
        if counters.get("a.link.tx_bytes"):
            out["bytes/pkt"] = round(counters["a.link.tx_bytes"] / pkts, 1)
        if value.get("cpu_ns_per_packet"):
            # the sender's own CPU time per packet (xsk_tx -p): guest instructions under icount shift=0
            out["sender-cpu-ns/pkt"] = value["cpu_ns_per_packet"]
        if counters.get("guest.run_ns"):
            # guest ns per packet over the measured step; under icount shift=0 these are instructions
            out["guest-ns/pkt"] = round(counters["guest.run_ns"] / pkts, 1)
    return out


def record_per_packet(rec):
    """Every counter and perf event of a record per packet, plus its derived scalars (packets, CPU %)."""
    pkts = (rec.get("derived") or {}).get("tx_packets") or 0
    out = {**per_packet(rec.get("counters"), pkts), **per_packet(rec.get("perf"), pkts)}
    for k, v in (rec.get("derived") or {}).items():
        if isinstance(v, (int, float)) and not k.endswith("/pkt"):
            out[k] = v
    return out


# Quantities of time, not counts of events: meaningless where the mode's guest time is instructions.
HOST_TIME = ("stat.", "cpu_busy_pct", "softirq_pct", "cpu-ns/pkt", "cpu-clock", "task-clock", "softnet.time_squeeze")


def is_host_time(name):
    return name.startswith(HOST_TIME)


def is_perf_counter(name):
    """A per-packet counter that comes from perf stat (tracepoints and kprobes are 'group:event')."""
    ev = name.split("/")[0]
    return ":" in ev or ev in ("cpu-clock", "task-clock", "context-switches", "cycles", "instructions")


def check_expectations(rec, expect):
    """Messages for every `expect` entry whose `when` matches the record and whose bound fails."""
    mode = record_mode(rec)
    fields = {"nic_model": rec["nic_model"], "link": rec["link"], "kernel": rec["kernel"]["name"], "mode": mode.name,
              **rec.get("params", {})}
    values = record_per_packet(rec)
    bad = []
    for e in expect:
        if not matches(fields, e["when"]):
            continue
        v = values.get(e["counter"])
        where = ", ".join(f"{k}={v}" for k, v in e["when"].items()) or "every record"
        if v is None and not mode.perf_around_workload and is_perf_counter(e["counter"]):
            continue  # perf counters are not collected in that mode
        if v is None:
            bad.append(f"{e['counter']} was not measured ({where}) {e['why']}".strip())
        elif (e["min"] is not None and v < e["min"]) or (e["max"] is not None and v > e["max"]):
            bounds = " and ".join(b for b in (f">= {e['min']}" if e["min"] is not None else "",
                                              f"<= {e['max']}" if e["max"] is not None else "") if b)
            bad.append(f"{e['counter']} = {v:.4g}, expected {bounds} for {where}: {e['why']}".strip())
    return bad
