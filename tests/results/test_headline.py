"""A record's headline (lab/results/headline.py): the profiler's window count, never the sender's beside it."""
from lab.modes import DETERMINISTIC


def test_headline_is_the_window_count_and_never_pairs_with_the_senders():
    """Deterministic records headline the profiler's window (slab slow paths out); without a profile the sender's
    CPU time, a different measure: the two are never compared."""
    from lab.metrics.profile import window_counts
    from lab.results.compare import compare
    from lab.results.headline import headline
    prof = {"window_insns": 2_600_000, "packets": 1000,
            "functions": {"__slab_free": 60.0, "___slab_alloc": 20.0, "f": 9.0}}
    d = window_counts(prof, DETERMINISTIC.history_functions)
    assert d == {"insn/pkt": 2520.0, "slab-slow insn/pkt": 80.0}
    base = {"run_id": "r", "link": "virtio0", "params": {}, "status": "ok", "mode": "deterministic",
            "unit": "pkts/cpu-s"}
    win = [dict(base, kernel={"name": k}, cell=i, value=4e5, derived={"insn/pkt": v, "sender-cpu-ns/pkt": 2400.0})
           for i, (k, v) in enumerate([("a", 2520.0), ("a", 2521.0), ("b", 2600.0), ("b", 2601.0)])]
    h = headline(win[0])
    assert (h.metric, h.unit, h.value, h.higher_is_better) == ("instructions per packet", "insn/pkt", 2520.0, False)
    snd = [dict(r, derived={"sender-cpu-ns/pkt": 2400.0}) for r in win]
    assert headline(snd[0]).metric == "sender instructions per packet" and headline(snd[0]).value == 2400.0
    [p] = compare(win, by="kernel", baseline="a")
    assert p.result.verdict == "slower" and p.unit == "insn/pkt"
    assert compare([win[0], win[1], snd[2], snd[3]], by="kernel", baseline="a") == []  # window vs sender: no pair


def test_a_window_counts_per_the_unit_its_workload_names_first():
    """A TCP transfer's window counts per KiB of payload (a TSO superpacket is not a packet), pktgen's per packet,
    a tool's CPU rate unit wins over the window's word; a count that is missing, zero or not a number is no unit."""
    from lab.metrics.profile import window_unit
    from lab.results.headline import headline
    assert window_unit({"value": 1.3, "bytes": 16777216, "kibibytes": 16384.0}) == ("kibibytes", 16384.0)
    assert window_unit({"packets": 100000, "kibibytes": 3.0}) == ("packets", 100000)
    assert window_unit({"packets": 0, "datagrams": True, "kibibytes": "9"}) == (None, None)
    rec = {"mode": "deterministic", "unit": "Gbit/s", "derived": {"insn/pkt": 6037.2},
           "profile": {"window_insns": 98_910_000, "packets": 16384.0, "per": "kibibytes", "functions": {}}}
    h = headline(rec)
    assert (h.metric, h.unit, h.value, h.instructions) == ("instructions per KiB of payload", "insn/KiB", 6037.2, True)
    old = dict(rec, profile={k: v for k, v in rec["profile"].items() if k != "per"})  # records from before "per"
    assert headline(old).unit == "insn/pkt"
    assert headline(dict(rec, unit="dgrams/cpu-s")).unit == "insn/dgram"
