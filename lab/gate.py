"""The nightly gate: fail on functional failures tonight, or on a significant regression against last night."""
from .results.compare import compare
from .results.rundir import final_attempts


def gate(current, previous):
    """(ok, lines). `current`/`previous`: record lists. A cell whose final attempt failed is a functional
    failure; a metric called `slower` (95 % Welch, >= 2 %) tonight vs last night is a regression."""
    lines, ok = [], True
    failed = [r for r in final_attempts(current).values() if r.get("status") != "ok"]
    for r in failed:
        ok = False
        lines.append(f"FAIL {r['testcase']} {r['link']} {r.get('params')} {r['kernel']['name']}: "
                     f"{(r.get('error') or r.get('status')).splitlines()[0][:160]}")
    if previous:
        tagged = [dict(r, run_id="last-night") for r in previous] + [dict(r, run_id="tonight") for r in current]
        for p in compare(tagged, by="run", baseline="last-night"):
            res = p.result
            tag = "REGRESSION" if res.verdict == "slower" else "ok"
            if res.verdict == "slower":
                ok = False
            if res.change_pct is not None:
                lines.append(f"{tag} {p.metric} {', '.join(f'{k}={v}' for k, v in p.context.items())}: "
                             f"{res.change_pct:+.1f}% {res.verdict}")
    else:
        lines.append("no results from last night: regression check skipped")
    return ok, lines
