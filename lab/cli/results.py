"""`lab compare`, `lab report`, `lab gate`: commands that read run directories (no guest)."""
import json



def _run_records(paths):
    from ..results.rundir import load_runs
    return load_runs(paths)


def cmd_compare(a):
    from ..report.table import render_pairs
    from ..results.compare import compare
    runs, recs = _run_records(a.runs_dirs)
    pairs = compare(recs, by=a.by, baseline=a.baseline, confidence=a.confidence)
    if a.json:
        print(json.dumps([p.as_dict() for p in pairs], indent=2, default=str))
    else:
        print(render_pairs(pairs))
    return 0


def cmd_report(a):
    from ..report.html import render_report
    from ..report.table import render_table
    runs, recs = _run_records(a.runs_dirs)
    if a.html:
        render_report(a.runs_dirs, a.html, by=a.by)
        print(f"report: {a.html}")
        if a.screenshot:
            from ..report.screenshot import screenshot
            print(f"screenshot: {screenshot(a.html, a.screenshot)}")
    if a.json:
        print(json.dumps(recs, indent=2, default=str))
    elif not a.html:
        tests = [r for r in recs if r.get("kind") == "selftest"]
        measured = [r for r in recs if r.get("kind") != "selftest"]
        if measured or not tests:
            print(render_table(measured))
        for r in tests:
            print(f"{r['kernel']['name']:24s} {r['testcase']}: {r['test']:32s} {r['status']:4s} {r['seconds']:8.1f} s")
    return 0


def read_runs_log(paths):
    """[(testcase path, mode, exit status)] of scripts/nightly.sh's runs logs (tab-separated)."""
    from ..errors import ConfigError
    out = []
    for path in paths:
        try:
            lines = open(path).read().splitlines()
        except OSError as e:
            raise ConfigError(f"--runs-log {path}: {e.strerror}") from None
        out += _runs_log_lines(path, lines)
    return out


def _runs_log_lines(path, lines):
    from ..errors import ConfigError
    out = []
    for n, line in enumerate(lines, 1):
        parts = line.split("\t")
        if len(parts) != 3 or not parts[2].strip().isdigit():
            raise ConfigError(f"{path}:{n}: expected 'TESTCASE<tab>MODE<tab>EXIT STATUS', got {line!r}")
        out.append((parts[0], parts[1], int(parts[2])))
    return out


def cmd_gate(a):
    from ..gate import gate
    from ..results.rundir import atomic_write
    runs, current = _run_records(a.runs_dirs)
    _, previous = _run_records(a.previous) if a.previous else ([], [])
    _, pinned = _run_records(a.pinned) if a.pinned else ([], [])
    res = gate(current, previous, pinned, gate_wallclock=a.gate_wallclock,
               runs=[(str(rd.path), rd.manifest) for rd in runs], runs_log=read_runs_log(a.runs_log))
    print("\n".join(res.lines))
    print("gate: " + ("pass" if res.ok else "FAIL"))
    if a.verdict:
        atomic_write(a.verdict, json.dumps(res.as_dict(), indent=2) + "\n")
    return 0 if res.ok else 1
