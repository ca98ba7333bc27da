"""pytest plugin (entry point `pytest11: dplab`): datapath tests over real guests in a few lines.

Fixtures
  lab_kernel   the kernel under test (--lab-kernel; 'debian' by default, or a build name/path)
  lab_vm       a booted guest with a virtio-net and an e1000e link, one per session and kernel
  lab_link     one link of lab_vm (virtio by default; parametrise indirectly with "e1000e")
  lab_measure  run a testcase (path or YAML text) on lab_kernel, get records and A/B pairs back
  lab_target   the hardware target (--lab-target NAME in --lab-hosts): lab_vm and lab_measure run there, on
               its own kernel or, with --lab-kernel and kexec: in its entry, on that kernel (kexec'd into)
Options: --lab-kernel, --lab-accel, --lab-repeat, --lab-target, --lab-hosts. Markers: vm, build, slow.
A failing test that used a guest gets the guest's console tail in its report; a KTAP-like summary
closes the session when --lab-ktap is given.
"""
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest


def pytest_addoption(parser):
    g = parser.getgroup("dplab")
    g.addoption("--lab-kernel", default=None, help="kernel for lab_* fixtures: debian (default), a build name, a path")
    g.addoption("--lab-accel", default=None, choices=["kvm", "tcg"], help="skip the KVM probe")
    g.addoption("--lab-repeat", type=int, default=None,
                help="repeats per cell for lab_measure (default: the testcase's)")
    g.addoption("--lab-ktap", action="store_true", help="print a KTAP-like summary at the end")
    g.addoption("--lab-target", default=None, help="a hardware target: lab_vm and lab_measure use its two ports over "
                                                   "SSH")
    g.addoption("--lab-hosts", default="hosts/lab.yaml", help="hosts file for --lab-target (default hosts/lab.yaml)")


def pytest_configure(config):
    for m in ("vm: boots a real guest in QEMU", "build: builds a real kernel", "slow: long-running"):
        config.addinivalue_line("markers", m)


@pytest.fixture(scope="session")
def lab_kernel(request):
    from lab.kernel import resolve_kernel
    spec = getattr(request, "param", None) or request.config.getoption("--lab-kernel")
    if request.config.getoption("--lab-target"):  # a hardware target: its own kernel, or --lab-kernel by kexec
        return resolve_kernel(spec) if spec else None
    return resolve_kernel(spec)


@pytest.fixture(scope="session")
def lab_accel(request, lab_kernel):
    if lab_kernel is None or request.config.getoption("--lab-target"):
        return None
    from lab.vm.accel import choose_accel
    return choose_accel(lab_kernel, request.config.getoption("--lab-accel"))[0]


@pytest.fixture(scope="session")
def lab_target(request):
    """The --lab-target of --lab-hosts (lab/remote/hosts.py), or None."""
    name = request.config.getoption("--lab-target")
    if not name:
        return None
    from lab.remote.hosts import get_target
    t = get_target(request.config.getoption("--lab-hosts"), name)
    if t.kind != "hardware":
        raise pytest.UsageError(f"--lab-target {name}: a {t.kind} target; the plugin's fixtures drive a hardware "
                                f"target's ports (for remote-lab, run pytest on that host, or lab run --target)")
    return t


# what lab_vm boots, in a testcase's terms: both links, the default kernel and link backend
BOTH_LINKS = SimpleNamespace(kernels=[], links=["virtio", "e1000e"], boot_for=lambda mode: (None, []))


@pytest.fixture(scope="session")
def lab_vm(request, lab_target, lab_kernel, lab_accel):
    """A booted guest (GuestEnv) with a virtio-net and an e1000e link wired; with --lab-target, the target's
    two ports (HardwareEnv), the same surface."""
    from lab.results.rundir import RunDir
    from lab.runner import RunOptions
    from lab.targets import provider_for
    rd = RunDir.create(Path(tempfile.mkdtemp(prefix="dplab-pytest-")), "pytest")
    quiet = lambda m: None
    opts = RunOptions(kernels=[lab_kernel.spec()] if lab_kernel else [], accel=lab_accel,
                      target=lab_target.name if lab_target else None, hosts=request.config.getoption("--lab-hosts"))
    provider = provider_for(opts)  # guests here, or the target's ports (its kernel under test by kexec)
    kernels, cfg, _ = provider.prepare(BOTH_LINKS, say=quiet)
    why = provider.ready(kernels[0], rd, say=quiet)
    if why:
        raise RuntimeError(why)
    with provider.open(kernels[0], cfg, rd, say=quiet) as env:
        request.config._dplab_vms = getattr(request.config, "_dplab_vms", []) + [env]
        yield env


@dataclass
class LinkHandle:
    """One link of a booted guest: `run` in the root namespace, `ns_run('a'|'b', ...)` in an end's namespace."""

    vm: object
    link: object

    @property
    def model(self):
        return self.link.model.name

    def addr(self, side):
        return self.link.addr(side)

    def ns(self, side):
        return self.link.ns(side)

    def run(self, argv, **kw):
        return self.vm.run(argv, **kw)

    def sh(self, script, **kw):
        return self.vm.sh(script, **kw)

    def ns_run(self, side, argv, **kw):
        return self.vm.ns_run(self.link.ns(side), argv, **kw)


@pytest.fixture
def lab_link(request, lab_vm):
    model = getattr(request, "param", "virtio")
    if request.config.getoption("--lab-target"):  # a target has one link: its two ports
        return LinkHandle(lab_vm, lab_vm.links[0])
    for link in lab_vm.links:
        if link.model.name == model:
            return LinkHandle(lab_vm, link)
    raise pytest.UsageError(f"lab_link: no {model!r} link in lab_vm")


@dataclass
class Measurement:
    run_dir: object
    records: list

    def compare(self, by=None, baseline=None):
        from lab.results.compare import compare
        return compare(self.records, by=by, baseline=baseline)

    def verdict(self, by, baseline, other, **ctx):
        """The verdict of `other` against `baseline` along `by` (context filters e.g. link='virtio0')."""
        for p in self.compare(by, baseline):
            if p.b == other and all(p.context.get(k) == v for k, v in ctx.items()):
                return p.result
        raise LookupError(f"no pair {by}: {baseline} -> {other} with {ctx}")


@pytest.fixture
def lab_measure(request, lab_target, lab_kernel, lab_accel, tmp_path):
    from lab.runner import RunOptions, run_testcase
    from lab.workloads import load_testcase

    def measure(testcase, **overrides):
        path = Path(testcase)
        if "\n" in str(testcase):
            path = tmp_path / "testcase.yaml"
            path.write_text(testcase)
        tc = load_testcase(path)
        for k, v in overrides.items():
            setattr(tc, k, v)
        opts = RunOptions(kernels=[lab_kernel.spec()] if lab_kernel else [], accel=lab_accel,
                          repeat=request.config.getoption("--lab-repeat"), runs_root=str(tmp_path / "runs"),
                          target=lab_target.name if lab_target else None, hosts=request.config.getoption("--lab-hosts"))
        rd = run_testcase(tc, opts, say=lambda m: None)
        return Measurement(rd, rd.results())

    return measure


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call" and rep.failed:
        for env in getattr(item.config, "_dplab_vms", []):
            if getattr(env, "vm", None) is not None and env.console is not None:
                rep.sections.append((f"guest console tail ({env.rundir.id})", env.console.tail_text(30)))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not config.getoption("--lab-ktap"):
        return
    # One line per test, its worst phase: a fixture that fails to boot a guest (setup) or to tear it down
    # (teardown) is `not ok`, never a test that vanished from the summary.
    order = ["ok", "skip", "not ok"]
    reports = sorted((r for key in ("passed", "failed", "skipped", "error") for r in terminalreporter.stats.get(key, [])
                      if hasattr(r, "when")), key=lambda r: getattr(r, "start", 0))  # in the order they ran
    tests = {}
    for r in reports:
        verdict = "not ok" if r.failed else "skip" if r.skipped else "ok"
        tests[r.nodeid] = max(tests.get(r.nodeid, "ok"), verdict, key=order.index)
    terminalreporter.write_line("KTAP version 1")
    terminalreporter.write_line(f"1..{len(tests)}")
    for i, (nodeid, verdict) in enumerate(tests.items(), 1):
        name = nodeid.replace(" ", "_")
        terminalreporter.write_line(f"ok {i} {name} # SKIP" if verdict == "skip" else f"{verdict} {i} {name}")
