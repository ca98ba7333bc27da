"""Result records and run dirs as a run writes them, for tests of what reads them (compare, gate)."""
from lab.results.rundir import RunDir


def throughput_rec(run, cell, kernel, link, params, value, pkts=1000, xmit=1000):
    return {"run_id": run, "cell": cell, "testcase": "t", "kernel": {"name": kernel}, "link": link, "params": params,
            "status": "ok", "value": value, "metric": "throughput", "unit": "Gbit/s", "higher_is_better": True,
            "started": "2026-11-23T02:00:00", "derived": {"tx_packets": pkts}, "counters": {"a.link.tx_packets": pkts},
            "perf": {"net:net_dev_xmit": xmit}}


def xsk_rec(kernel, value, mode="deterministic", run="r", cell=0, sha=None, accel="tcg", cpu="max", **params):
    return {"run_id": run, "cell": cell, "testcase": "xsk", "kernel": {"name": kernel, "sha256": sha or kernel * 8},
            "link": "virtio0", "nic_model": "virtio", "params": params or {"size": 64}, "status": "ok", "value": value,
            "metric": "tx rate", "unit": "pkts/cpu-s", "higher_is_better": True, "mode": mode, "accel": accel,
            "cpu_model": cpu}


def series(kernel, level, cv_pct, n, rng, **kw):
    # a run numbers its cells once
    return [xsk_rec(kernel, rng.gauss(level, level * cv_pct / 100), cell=f"{kernel}-{i}", **kw) for i in range(n)]


def cell_rec(kernel, value, cell, unit="Gbit/s", counters=None, run="r"):
    return {"run_id": run, "cell": cell, "testcase": "t", "kernel": {"name": kernel}, "link": "virtio0",
            "nic_model": "virtio", "params": {}, "status": "ok", "value": value, "metric": "throughput", "unit": unit,
            "higher_is_better": True, "mode": "wallclock", "counters": counters or {}, "derived": {"tx_packets": 1000}}


def run_of_a_night(tmp_path, name, status="ok", planned=2, values=(1.0, 1.0), mode="deterministic"):
    rd = RunDir.create(tmp_path / name, "t")
    rd.update_manifest(status=status, mode=mode, testcase={"path": "testcases/t.yaml", "name": "t", "planned": planned})
    for i, v in enumerate(values):
        r = cell_rec("stock", v, i + 1, run=rd.id)
        r.update(mode=mode, repeat_index=i)
        rd.append_result(r)
    return rd
