"""`lab bisect TESTCASE --source TREE --good REV --bad REV [run options]`: the first commit the lab's verdict
calls changed (lab/bisect.py)."""

from ..options import RUN_OPTIONS, Opt, add_options, from_args

DESTS = [o.dest for o in RUN_OPTIONS if o.dest not in ("kernels", "target", "hosts", "source")]
MAX_STEPS = Opt("max_steps", "--max-steps", "int", "stop after N steps (1..64)", min=1, max=64)


def cmd_bisect(a):
    from ..bisect import Bisect
    from ..runner import RunOptions
    from ..workloads import load_testcase
    opts = RunOptions(**from_args(a, DESTS))
    b = Bisect(load_testcase(a.testcase), a.source, a.good, a.bad, opts, counter=a.counter, max_steps=a.max_steps,
               directory=a.resume, kernel=a.kernel)
    print(f"dplab: bisect {b.dir} (bisect.jsonl: every step; Ctrl-C and --resume {b.dir} go on from there)")
    s = b.run()
    return 0 if s.get("first_bad") or s.get("verdict") else 1


def add_parser(sub):
    b = sub.add_parser("bisect", help="the first commit of a git tree whose kernel the lab calls changed: "
                       "lab bisect X.yaml --source TREE --good REV --bad REV")
    b.add_argument("testcase")
    b.add_argument("--source", required=True, metavar="TREE", help="a git tree of the kernel")
    b.add_argument("--good", required=True, metavar="REV", help="a revision measured as the baseline")
    b.add_argument("--bad", required=True, metavar="REV", help="a later revision that differs from it")
    b.add_argument("--kernel", default="stock", metavar="ROLE", help="what each revision builds: stock (the lab "
                   "base, default), a series under patches/ applied, or a kconfig fragment's name")
    b.add_argument("--counter", metavar="NAME", help="bisect on this counter (per packet) moving, not the headline")
    b.add_argument("--max-steps", type=MAX_STEPS.convert, metavar="N", help="stop after N steps (1..64)")
    b.add_argument("--resume", metavar="BISECT_DIR", help="go on with an interrupted bisect (its bisect.jsonl)")
    add_options(b, DESTS)
    b.set_defaults(func=cmd_bisect)
