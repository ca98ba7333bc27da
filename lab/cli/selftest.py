"""`lab selftest TARGET[:TEST,...]`: the kernel's own kselftests in the lab's guest (lab/selftest.py)."""


def cmd_selftest(a):
    from ..selftest import run_selftests
    rd = run_selftests(a.kernel, a.spec, source=a.source, runs_root=a.runs, accel=a.accel)
    recs = rd.results()
    counts = {v: sum(r["status"] == v for r in recs) for v in ("pass", "fail", "skip")}
    print(f"{counts['pass']} pass, {counts['fail']} fail, {counts['skip']} skip; KTAP: {rd.path}/selftests.ktap  "
          f"records: {rd.path}/results.jsonl")
    return 1 if counts["fail"] else 0


def add_parser(sub):
    s = sub.add_parser("selftest",
                       help="the kernel's own kselftests in the guest: lab selftest net:udpgso.sh,udpgro.sh")
    s.add_argument("spec", metavar="TARGET[:TEST,...]", help="a kselftest target (tools/testing/selftests/TARGET), "
                   "optionally the tests to run (default: the target's TEST_PROGS)")
    s.add_argument("--kernel", help="kernel to boot (as lab run --kernel; default Debian's)")
    s.add_argument("--source", help="kernel source of the selftests (default: the kernel's own, or Debian's of its "
                                    "line)")
    s.add_argument("--accel", choices=["kvm", "tcg"])
    s.add_argument("--runs", default="runs")
    s.set_defaults(func=cmd_selftest)
