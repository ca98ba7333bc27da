"""`lab run TESTCASE [options]` (and `--resume RUN_DIR`): every cell on every kernel, a table or JSON at the end."""
import json
import sys

from ..errors import ConfigError, LabError
from ..options import RUN_OPTIONS, add_options, from_args

RUN_DESTS = [o.dest for o in RUN_OPTIONS]


def cmd_run(a):
    from ..runner import load_run, run_testcase
    from ..workloads import load_testcase
    if a.resume:
        rd, tc, opts = load_run(a.resume)
        rd = run_testcase(tc, opts, say=progress(a), resume=rd)
        return print_run(a, rd, tc, opts)
    if not a.testcase:
        raise ConfigError("lab run needs a testcase file (or --resume RUN_DIR)")
    targets = a.target or [None]
    if len(targets) > 1:
        return run_on_targets(a, targets)
    tc = load_testcase(a.testcase)
    opts = run_options(a, targets[0])
    return print_run(a, run_testcase(tc, opts, say=progress(a)), tc, opts)


def run_on_targets(a, targets):
    """`lab run X --target A --target B`: a run on each in turn (a run dir each); a target that cannot be reached,
    or fails, is reported and the next one runs. Exit status: the worst of them."""
    from ..runner import run_testcase
    from ..workloads import load_testcase
    if a.json:
        raise ConfigError("--json takes one --target (one document per run); several targets print tables")
    worst = 0
    for t in targets:
        tc = load_testcase(a.testcase)
        opts = run_options(a, t)
        print(f"dplab: target {t}")
        try:
            rd = run_testcase(tc, opts, say=progress(a))
        except LabError as e:
            print(f"lab: error: target {t}: {e}", file=sys.stderr)
            worst = max(worst, 2 if isinstance(e, ConfigError) else 1)
            continue
        worst = max(worst, print_run(a, rd, tc, opts))
    return worst


def run_options(a, target=None):
    """RunOptions of parsed `lab run` arguments for one `target` (options.remote_argv is their inverse)."""
    from ..runner import RunOptions
    return RunOptions(**{**from_args(a, RUN_DESTS), "target": target})


def progress(a):
    """Progress lines: stdout for the table, stderr when stdout carries --json (it stays one JSON document)."""
    return (lambda m: print(m, file=sys.stderr)) if a.json else print


def print_run(a, rd, tc, opts):
    from ..report.table import render_pairs, render_table
    from ..results.compare import compare, dims
    from ..results.rundir import final_attempts
    recs = rd.results()
    pairs = compare(recs) if len({json.dumps(dims(r),
                                             sort_keys=True) for r in recs if r.get("status") == "ok"}) > 1 else []
    if a.json:
        print(json.dumps({"records": recs, "pairs": [p.as_dict() for p in pairs]}, indent=2, default=str))
    else:
        print(render_table(recs))
        if pairs and all(p.result.verdict == "insufficient data" for p in pairs):
            print(f"\n(A/B verdicts along {pairs[0].dimension} need --repeat 2 or more)")
        elif pairs and (len(opts.kernels or tc.kernels) > 1 or tc.axes):
            print()
            print(render_pairs(pairs))
        if tc.reference:
            from ..report.reference import render_reference
            print()
            print(render_reference(recs, tc.reference))
        print(f"\nresults: {rd.path}/results.jsonl  manifest: {rd.path}/manifest.json  console: {rd.console_log}")
    final = final_attempts(recs)
    return 0 if final and all(r.get("status") == "ok" for r in final.values()) else 1


def add_parser(sub):
    r = sub.add_parser("run", help="run a testcase (YAML) and print a table of results")
    r.add_argument("testcase", nargs="?", help="testcase file, e.g. testcases/throughput.yaml")
    r.add_argument("--resume", metavar="RUN_DIR", help="measure only the cells an interrupted run dir lacks")
    r.add_argument("--json", action="store_true", help="print the records as JSON instead of the table")
    add_options(r, RUN_DESTS)
    r.set_defaults(func=cmd_run)
