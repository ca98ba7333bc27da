"""`lab selftest TARGET[:TEST,...]`: the kernel's own kselftests in the lab's guests (lab/selftest/)."""


def cmd_selftest(a):
    from ..selftest import run_selftests
    from ..vm.links import nic_model
    links = [nic_model(m).name for m in a.links.split(",") if m]
    rd = run_selftests(a.kernel, a.spec, source=a.source, runs_root=a.runs, accel=a.accel, jobs=a.jobs,
                       links=links, ignore=a.crash_ignore, timeout=a.timeout, target=a.target, hosts=a.hosts)
    recs = rd.results()
    counts = {v: sum(r["status"] == v for r in recs) for v in ("pass", "fail", "skip", "flaky")}
    longest = sorted(recs, key=lambda r: -r["seconds"])[:5]
    print("longest: " + ", ".join(f"{r['test']} {r['seconds']:.0f} s" for r in longest))
    print(f"{counts['pass']} pass, {counts['fail']} fail, {counts['skip']} skip, {counts['flaky']} flaky; "
          f"KTAP: {rd.path}/selftests.ktap  NIPA: {rd.path}/nipa.json  records: {rd.path}/results.jsonl")
    return 1 if counts["fail"] else 0


def add_parser(sub):
    from ..options import add_options
    from ..selftest.run import IGNORE
    s = sub.add_parser("selftest",
                       help="the kernel's own kselftests in the guest: lab selftest net:udpgso.sh,udpgro.sh")
    s.add_argument("spec", metavar="TARGET[:TEST,...]", help="a kselftest target (tools/testing/selftests/TARGET), "
                   "optionally the tests to run (default: what the target's `make run_tests` runs)")
    s.add_argument("--kernel", help="kernel to boot (as lab run --kernel; default Debian's)")
    s.add_argument("--source", help="kernel source of the selftests (default: the kernel's own, or Debian's of its "
                                    "line)")
    s.add_argument("--accel", choices=["kvm", "tcg"])
    s.add_argument("--jobs", type=int, help="guests at once, each taking the next test (default: the host's cores)")
    s.add_argument("--links", default="virtio", help="NIC models of the guests' links (default virtio; '' for none)")
    s.add_argument("--timeout", type=int, help="at most this many seconds per test (default: the target's own "
                   "timeout times the measured TCG factor)")
    s.add_argument("--crash-ignore", default=str(IGNORE), help="crash fingerprint ignore list (default %(default)s)")
    s.add_argument("--target", metavar="NAME", help="run on this hardware target of the hosts file instead: its own "
                   "kernel, its ports as the link (drivers/net: NETIF; side b on another host: REMOTE_TYPE=ssh)")
    add_options(s, ("hosts",))
    s.add_argument("--runs", default="runs")
    s.set_defaults(func=cmd_selftest)
