"""`make bench-gate`: the nightly gate's error rates, by simulation with synthetic records (fixed seed).

A night has the shape of scripts/nightly.sh's: wall-clock cells at CV 5-15 % (what TCG on a shared 2-core
machine gives) and deterministic cells at CV 0.1-0.4 %, 3 repeats each. Nights follow the nightly's policy:
the baseline is the last night that passed, the pinned night the first one that passed.
"""
import argparse
import random

from ..gate import gate

WALLCLOCK_CELLS = 18
DETERMINISTIC_KERNELS = ("stock", "xsk-copy-path")
SIZES = (64, 512, 1024, 1500)


def cells():
    """(mode, kernel, link, params, true value, CV %) of every cell of a night."""
    rng = random.Random(7)
    out = [("wallclock", "stock", f"virtio{i % 2}", {"cell": i}, 1.0, rng.uniform(5, 15))
           for i in range(WALLCLOCK_CELLS)]
    out += [("deterministic", k, "virtio0", {"size": s}, 4e5, rng.uniform(0.1, 0.4))
            for k in DETERMINISTIC_KERNELS for s in SIZES]
    return out


def night(rng, run_id, slowdown=None, repeat=3):
    """Records of one night; `slowdown` = {(mode, kernel): fraction} lowers those cells' true values."""
    recs, n = [], 0
    for mode, kernel, link, params, value, cv in cells():
        true = value * (1 - (slowdown or {}).get((mode, kernel), 0.0))
        for _ in range(repeat):
            n += 1
            recs.append({"run_id": run_id, "cell": n, "testcase": "sim",
                         "kernel": {"name": kernel, "sha256": kernel * 4},
                         "link": link, "nic_model": link[:-1], "params": params, "status": "ok", "mode": mode,
                         "accel": "tcg", "cpu_model": "max", "metric": "rate", "unit": "pps", "higher_is_better": True,
                         "value": rng.gauss(true, true * cv / 100)})
    return recs


def run_nights(n_nights, seed=1, slowdown_on=lambda i: None, gate_wallclock=False):
    """Gate verdicts (True = pass) of n_nights in a row under the nightly's baseline policy."""
    rng = random.Random(seed)
    previous = pinned = None
    verdicts = []
    for i in range(n_nights):
        tonight = night(rng, f"n{i}", slowdown_on(i))
        res = gate(tonight, previous, pinned, gate_wallclock=gate_wallclock)
        verdicts.append(res.ok)
        if res.ok:
            previous = tonight
            pinned = pinned or tonight
    return verdicts


def detection(effect, mode, trials=200, seed=3):
    """Fraction of nights flagging a one-kernel slowdown of `effect` in `mode` (3 repeats, vs a clean night)."""
    rng = random.Random(seed)
    hits = 0
    for _ in range(trials):
        base = night(rng, "b")
        tonight = night(rng, "t", {(mode, "stock"): effect})
        hits += not gate(tonight, base, gate_wallclock=mode == "wallclock").ok
    return hits / trials


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--nights", type=int, default=100)
    a = ap.parse_args()
    for gw in (False, True):
        fails = a.nights - sum(run_nights(a.nights, gate_wallclock=gw))
        print(f"A-vs-A: {fails} false FAIL nights in {a.nights}, wall clock "
              f"{'gating (Holm)' if gw else 'reported only'}")
    for mode in ("deterministic", "wallclock"):
        print(f"{mode:13s} detection with 3 repeats: " +
              ", ".join(f"{int(e * 100)} %: {detection(e, mode):.0%}" for e in (0.01, 0.03, 0.10)))


if __name__ == "__main__":
    main()
