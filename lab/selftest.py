"""`lab selftest TARGET[:TEST,...]`: the kernel's own kselftests, built from the kernel's source and run in
the lab's guest by kselftest's own runner (kselftest/runner.sh), one test at a time; its TAP becomes one
record per test (pass / fail / skip, seconds, output tail) in results.jsonl, and `selftests.ktap` in the run
dir. A test that does not build or does not pass is reported failing, never left out.

The build is `make headers` + `make -k -C tools/testing/selftests TARGETS=<suite>` in a hardlink farm of
the pristine source (cached by the source's identity): programs that do not build (missing libraries, a
test broken in that release) fail their own tests, the rest run.
"""
import re
import shutil
import subprocess
import time
from pathlib import Path

from .errors import ConfigError
from .hashing import text_sha256
from .kernel.config import OPT as OPTION
from .kernel.config import check_options
from .kernel.source import resolve_source
from .paths import cache_root
from .progress import Progress
from .results.rundir import RunDir, now_iso
from .vm.env import BootSpec, boot

RESULT = re.compile(r"^(not ok|ok) \d+ selftests: (\S+): (\S+)(?: # (SKIP|exit=\d+)\S*)?")
KSELFTEST_IN_GUEST = "/lab/kselftest"  # the run dir's guest/kselftest: the guest's /root and /tmp are its own


def parse_spec(spec):
    """'net:udpgso.sh,udpgro.sh' -> ('net', ['udpgso.sh', 'udpgro.sh']); 'net' -> ('net', [])."""
    suite, _, tests = spec.partition(":")
    if not re.fullmatch(r"[A-Za-z0-9_/-]+", suite):
        raise ConfigError(f"lab selftest {spec!r}: expected TARGET[:TEST,...], e.g. net:udpgso.sh,udpgro.sh")
    return suite, [t for t in tests.split(",") if t]


def source_for(kernel, spec=None):
    """The source a kernel's selftests come from: --source, a lab build's own, or Debian's of its line."""
    if spec:
        return resolve_source(spec)
    if kernel.build:
        return resolve_source(kernel.build["inputs"]["source"])
    m = re.match(r"(\d+\.\d+)", kernel.release)
    if not m:
        raise ConfigError(f"{kernel.name}: cannot tell its kernel line from {kernel.release!r}: give --source")
    return resolve_source(f"debian:{m.group(1)}")


def build_selftests(source, suite, say=print):
    """(selftests dir, build log) of `suite`, built once per source identity."""
    root = cache_root() / "kselftest" / text_sha256(source.identity)[:16]
    flat = suite.replace("/", "_")
    tree, done, log = root / "src", root / f".built-{flat}", root / f"build-{flat}.log"
    if not done.exists():
        if not tree.exists():
            tmp = root / "src.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            root.mkdir(parents=True, exist_ok=True)
            subprocess.run(["cp", "-al", str(source.path), str(tmp)], check=True)
            tmp.rename(tree)
        t0 = time.monotonic()
        say(f"selftest: building {suite} selftests from {source.origin} (make -k; log {log})")
        steps = (["make", "-s", "headers"], ["make", "-k", "-C", "tools/testing/selftests", f"TARGETS={suite}"])
        progress = Progress(f"selftest: building {suite}: steps", len(steps))
        with open(log, "w") as f:
            for argv in steps:
                progress.advance(0, note=" ".join(argv[:2]))
                subprocess.run(["nice", "-n", "10", *argv], cwd=tree, stdout=f, stderr=subprocess.STDOUT)
                progress.advance()
        progress.close()
        done.write_text(f"{round(time.monotonic() - t0, 1)}\n")
    d = tree / "tools/testing/selftests"
    if not (d / suite).is_dir():
        raise ConfigError(f"lab selftest: {source.origin} has no selftest suite {suite!r} "
                          f"(tools/testing/selftests/{suite})")
    return d, log


def suite_tests(selftests, suite):
    """Every TEST_PROGS entry of the suite's Makefile (what `make run_tests` runs)."""
    text = (selftests / suite / "Makefile").read_text().replace("\\\n", " ")
    return [t for m in re.finditer(r"^TEST_PROGS\s*[:+]?=(.*)$", text, re.M) for t in m.group(1).split()]


def parse_tap(text):
    """[(verdict pass|fail|skip, suite, test, output lines)] from kselftest runner output."""
    out, lines = [], []
    for line in text.splitlines():
        m = RESULT.match(line)
        if m:
            verdict = "skip" if m.group(4) == "SKIP" else "pass" if m.group(1) == "ok" else "fail"
            out.append((verdict, m.group(2), m.group(3), lines))
            lines = []
        elif line.startswith("# ") and not line.startswith("# selftests: "):  # the runner's header: KTAP adds its own
            lines.append(line[2:])
    return out


def suite_needs(selftests, suite):
    """The options the suite's own fragment asks for (tools/testing/selftests/<suite>/config, and net/config for
    drivers/net, as netdev's CI builds them): {CONFIG_X: 'y' | 'm'}."""
    files = [selftests / suite / "config"] + ([selftests / "net" / "config"] if suite.startswith("drivers/net") else [])
    out = {}
    for f in files:
        for line in _read(f).splitlines():
            m = OPTION.match(line.strip())
            if m and m.group(2) in ("y", "m"):
                out.setdefault(m.group(1), m.group(2))
    return out


def lacking(kernel, needs):
    """The options of `needs` the kernel's config does not have (None: no config to check)."""
    if not kernel.config:
        return None
    return check_options(kernel.config, needs, modular=kernel.modules_dir is not None)[0]


def run_selftests(kernel_spec, spec, source=None, runs_root="runs", accel=None, say=print):
    """Build and run; returns the RunDir (records on disk as each test ends)."""
    from .kernel.resolve import resolve_kernel
    suite, tests = parse_spec(spec)
    kernel = resolve_kernel(kernel_spec, say=say)
    selftests, log = build_selftests(source_for(kernel, source), suite, say=say)
    tests = tests or suite_tests(selftests, suite)
    rd = RunDir.create(runs_root, f"selftest-{suite.replace('/', '-')}")
    shutil.copy(log, rd.path / "selftest-build.log")
    needs = suite_needs(selftests, suite)
    missing = lacking(kernel, needs)
    if missing:  # the failures they cause are the lab's kernel's, not the tests': said before anything runs
        say(f"selftest: {kernel.name} lacks {len(missing)} of the {len(needs)} options {suite}/config asks for: "
            f"{', '.join(missing[:12])}{' ...' if len(missing) > 12 else ''}")
    rd.update_manifest(testcase={"name": f"selftest:{suite}", "tests": tests, "selftests": str(selftests)},
                       kind="selftest", status="running",
                       suite_config={"asks": len(needs), "missing": missing})
    timeout = int(re.search(r"timeout=(\d+)", _read(selftests / suite / "settings") or "timeout=45").group(1))
    ktap = ["TAP version 13", f"1..{len(tests)}"]
    staged = rd.guest_dir / "kselftest"
    staged.mkdir(parents=True, exist_ok=True)
    for d in ("kselftest", suite):  # a copy (14 MB for net): tests may write next to themselves
        (staged / d).parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(selftests / d, staged / d, symlinks=True, dirs_exist_ok=True)
    progress = Progress(f"selftest {suite}: tests", len(tests))
    with boot(BootSpec(kernel=kernel, links=[], accel=accel), rd, say=say) as env:
        for i, test in enumerate(tests, 1):
            # KSFT_MACHINE_SLOW: the tests' own timing checks relax, as on netdev's CI for slow machines (TCG)
            script = (f"cd {KSELFTEST_IN_GUEST}/{suite} && BASE_DIR={KSELFTEST_IN_GUEST} && KSFT_MACHINE_SLOW=yes "
                      f"&& export BASE_DIR KSFT_MACHINE_SLOW && . ../kselftest/runner.sh && run_many ./{test}")
            res = env.run(["sh", "-c", script], timeout=timeout + 60, check=False)
            parsed = parse_tap(res.stdout)
            verdict, _, _, output = parsed[0] if parsed else ("fail", suite, test, res.stdout.splitlines())
            rec = {"run_id": rd.id, "kind": "selftest", "testcase": f"selftest:{suite}", "cell": i, "test": test,
                   "params": {"test": test}, "status": verdict, "seconds": round(res.elapsed, 2),
                   "output_tail": "\n".join(output[-25:]), "kernel": {"name": kernel.name, "release": kernel.release},
                   "started": now_iso()}
            rd.append_result(rec)
            ktap += [f"# selftests: {suite}: {test}", *[f"# {l}" for l in output[-200:]],
                     f"{'not ok' if verdict == 'fail' else 'ok'} {i} selftests: {suite}: {test}"
                     + (" # SKIP" if verdict == "skip" else "")]
            say(f"  {i:3d} {test:32s} {verdict:4s} {res.elapsed:7.1f} s")
            progress.advance(note=test)
    progress.close()
    (rd.path / "selftests.ktap").write_text("\n".join(ktap) + "\n")
    rd.update_manifest(status="ok", ended=now_iso())
    return rd


def _read(path):
    try:
        return Path(path).read_text()
    except OSError:
        return ""
