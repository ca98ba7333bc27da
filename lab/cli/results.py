"""`lab compare`, `lab report`, `lab gate`: commands that read run directories (no guest)."""
import json
import sys
from pathlib import Path

from ..options import Opt
from .bisect import MAX_STEPS

CONFIDENCE = Opt("confidence", "--confidence", "float", "", min=0.5, max=0.999)


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
    if a.kcidb:
        from ..errors import LabError
        from ..report.kcidb import kcidb_doc
        from ..results.rundir import atomic_write
        try:
            doc = kcidb_doc([(rd.results(), rd.manifest) for rd in runs])
        except ValueError as e:
            raise LabError(f"--kcidb {a.kcidb}: {e}") from None
        atomic_write(a.kcidb, json.dumps(doc, indent=1) + "\n")
        print(f"kcidb: {a.kcidb} ({len(doc['tests'])} tests, {len(doc['builds'])} builds, {len(doc['issues'])} "
              f"issues; valid KCIDB v{doc['version']['major']}.{doc['version']['minor']})")
        return 0
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
               runs=[(str(rd.path), rd.manifest) for rd in runs], runs_log=read_runs_log(a.runs_log),
               streaks=_streaks(a.history) if a.history is not None else None)
    if a.bisect and res.regressed:
        from ..bisect import bisect_regressions, verdict_line
        root = Path(a.verdict).parent if a.verdict else Path("runs")
        res.bisects = bisect_regressions(res.regressed, current, previous, {rd.id: rd.path for rd in runs}, a.bisect,
                                         root, max_steps=a.bisect_steps, say=lambda m: print(m, file=sys.stderr))
        for b in res.bisects:  # each after the regressions it explains
            res.lines.insert(len(res.regressions), verdict_line(b))
    print("\n".join(res.lines))
    print("gate: " + ("pass" if res.ok else "FAIL"))
    if a.verdict:
        atomic_write(a.verdict, json.dumps(res.as_dict(), indent=2) + "\n")
    return 0 if res.ok else 1


def _streaks(path):
    """The selftest streaks of the last night's gate.json (`lab gate --history`); {} if it has none yet."""
    from ..errors import ConfigError
    if not path:
        return {}
    try:
        s = json.loads(Path(path).read_text()).get("streaks") or {}
    except (OSError, ValueError, AttributeError) as e:
        raise ConfigError(f"--history {path}: not a gate.json ({e})") from None
    if not isinstance(s, dict) or not all(isinstance(v, dict) and isinstance(v.get("passes"), int) for v in s.values()):
        raise ConfigError(f"--history {path}: streaks: expected {{test: {{passes, ever_passed, flaky}}}}")
    return s


def add_parsers(sub):
    c = sub.add_parser("compare", help="A/B verdicts between variants: lab compare runs/A [runs/B ...]")
    c.add_argument("runs_dirs", nargs="+", metavar="RUN_DIR")
    c.add_argument("--by", help="dimension to compare along: kernel, link, run, or an axis name (default: guessed)")
    c.add_argument("--baseline", help="value of that dimension used as A (default: the first seen)")
    c.add_argument("--confidence", type=CONFIDENCE.convert, default=0.95,
                   help="confidence of the interval (default 0.95; 0.5..0.999)")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_compare)

    rp = sub.add_parser("report", help="merge run dirs into a table, JSON or a self-contained HTML report")
    rp.add_argument("runs_dirs", nargs="+", metavar="RUN_DIR")
    rp.add_argument("--html", metavar="FILE", help="write an HTML report here")
    rp.add_argument("--by", help="dimension for the A/B section (default: guessed)")
    rp.add_argument("--screenshot", metavar="PNG", help="also render the HTML to a PNG with headless chromium")
    rp.add_argument("--json", action="store_true", help="print all records as JSON")
    rp.add_argument("--kcidb", metavar="FILE", help="write the run dirs as KernelCI's KCIDB v5 data (validated)")
    rp.set_defaults(func=cmd_report)

    gt = sub.add_parser("gate", help="nightly gate: functional failures, or a regression vs the last passing night "
                                     "(and drift vs a pinned one), judged on deterministic records by default")
    gt.add_argument("runs_dirs", nargs="+", metavar="RUN_DIR")
    gt.add_argument("--previous", nargs="*", default=[], metavar="RUN_DIR", help="the last passing night's run dirs")
    gt.add_argument("--pinned", nargs="*", default=[], metavar="RUN_DIR",
                    help="an older pinned night's run dirs (drift)")
    gt.add_argument("--gate-wallclock", action="store_true",
                    help="wall-clock pairs gate too (Holm-corrected with the rest); default: reported only")
    gt.add_argument("--verdict", metavar="FILE", help="write the verdict as JSON (scripts/nightly.sh: "
                                                      "<night>/gate.json)")
    gt.add_argument("--runs-log", metavar="FILE", action="append", default=[],
                    help="TESTCASE<tab>MODE<tab>EXIT STATUS per `lab run` of the night (scripts/nightly.sh writes it): "
                         "one that failed without a run dir fails the gate")
    gt.add_argument("--history", metavar="GATE_JSON", nargs="?", const="",
                    help="the last night's gate.json: kernel selftests judged by their streaks (a failure fails the "
                         "night only for a test passing more than 15 nights in a row); bare: the first such night")
    gt.add_argument("--bisect", metavar="TREE", help="when a cell is slower than the last passing night, bisect this "
                    "git tree between the two nights' commits (their kernels built from it: lab run --source)")
    gt.add_argument("--bisect-steps", type=MAX_STEPS.convert, default=8, metavar="N",
                    help="at most N steps per bisect (default 8)")
    gt.set_defaults(func=cmd_gate)
