"""Expectations on per-packet counters (lab/metrics/derived.py)."""


def test_deterministic_mode_skips_only_perf_expectations():
    from lab.metrics.derived import check_expectations
    rec = {"nic_model": "virtio", "link": "virtio0", "kernel": {"name": "stock"}, "params": {}, "mode": "deterministic",
           "counters": {"a.link.tx_packets": 100}, "derived": {"tx_packets": 100}, "perf": {}}
    expect = [{"when": {}, "counter": "dplab:skb_store_bits/pkt", "min": 0.8, "max": None, "why": "path"},
              {"when": {}, "counter": "x.collect.sa_bytes/pkt", "min": 500, "max": None, "why": "SA"}]
    bad = check_expectations(rec, expect)
    assert len(bad) == 1 and bad[0].startswith("x.collect.sa_bytes/pkt was not measured")
