"""What a record headlines: its testcase's metric, or, in a mode whose guest time is instructions, the
instructions per packet (per datagram, per KiB: metrics/profile.UNITS) of a workload that measures its own CPU
time or marks a profiler window around its measured step (pktgen's run: tools/window_write.c).

The one place that decides it: comparisons, the gate, the terminal table, the report and its plots read
`headline(rec)`, so a deterministic XSK run is 2,520 insn/pkt everywhere, never 3.97e+05 pkts/cpu-s.
"""
from dataclasses import dataclass

from ..metrics.profile import UNITS
from ..modes import record_mode

# a rate per CPU second (the tools' unit) -> the unit its reciprocal counts per
PER = {"pkts/cpu-s": ("packet", "pkt"), "dgrams/cpu-s": ("datagram", "dgram")}
# a mode's headline derived value -> what it counts: the profiler's window (every guest instruction between the
# workload's marks, allocator slow paths out: modes.py) or, without the profiler, the sender's own CPU time
COUNTS = {"insn/pkt": "instructions per {}", "sender-cpu-ns/pkt": "sender instructions per {}"}


@dataclass(frozen=True)
class Headline:
    metric: str
    unit: str
    higher_is_better: bool
    value: float | None
    instructions: bool = False  # a count of guest instructions (never on one axis with a rate)


def headline(rec):
    derived = rec.get("derived") or {}
    name = next((h for h in record_mode(rec).headlines if derived.get(h) is not None), None)
    if name and (rec.get("unit") in PER or rec.get("profile")):  # a tool's own CPU rate, or a profiler window
        word, short = PER.get(rec.get("unit")) or UNITS.get((rec.get("profile") or {}).get("per"), UNITS["packets"])
        return Headline(COUNTS[name].format(word), f"insn/{short}", False, derived[name], True)
    return Headline(rec.get("metric", "value"), rec.get("unit", ""), rec.get("higher_is_better", True),
                    rec.get("value"))
