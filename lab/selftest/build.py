"""The kselftests of a kernel's source: built once per source identity, the tests a target runs, the options its
config fragment asks for, its timeout.

The build is `make headers` + `make -k -C tools/testing/selftests TARGETS=<suite>` in a hardlink farm of the
pristine source: programs that do not build (missing libraries, a test broken in that release) fail their own
tests, the rest run.
"""
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from ..errors import ConfigError
from ..hashing import text_sha256
from ..kernel.config import BEST_EFFORT, check_options, kconfig_depends
from ..kernel.config import OPT as OPTION
from ..kernel.source import resolve_source
from ..paths import cache_root
from ..progress import Progress

DEFAULT_TIMEOUT = 45  # kselftest/runner.sh's kselftest_default_timeout


def parse_spec(spec):
    """'net:udpgso.sh,udpgro.sh' -> ('net', ['udpgso.sh', 'udpgro.sh']); 'net' -> ('net', [])."""
    suite, _, tests = spec.partition(":")
    tests = [t for t in tests.split(",") if t]
    if not re.fullmatch(r"[A-Za-z0-9_/-]+", suite) or not all(re.fullmatch(r"[A-Za-z0-9_.+-]+", t) for t in tests):
        raise ConfigError(f"lab selftest {spec!r}: expected TARGET[:TEST,...] (names of letters, digits, _ . + -), "
                          f"e.g. net:udpgso.sh,udpgro.sh")
    return suite, tests


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
    if (d / suite).is_dir():
        bpf_objects(tree, d, suite, log)
    if not (d / suite).is_dir():
        raise ConfigError(f"lab selftest: {source.origin} has no selftest suite {suite!r} "
                          f"(tools/testing/selftests/{suite})")
    return d, log


def bpf_needs(selftests, suite, tests):
    """{test: [BPF objects under selftests/bpf it loads that are not there]}: `../bpf/NAME.bpf.o` in its script."""
    out = {}
    for t in tests:
        names = set(re.findall(r"\.\./bpf/([\w-]+\.bpf\.o)\b", read(selftests / suite / t)))
        missing = sorted(n for n in names if not (selftests / "bpf" / n).is_file())
        if missing:
            out[t] = missing
    return out


def bpf_objects(tree, selftests, suite, log):
    """Build with clang (Debian's package) the BPF objects the suite's scripts load from ../bpf, from the BPF
    selftests' own sources (bpf/progs/NAME.c, libbpf-dev's headers): the whole BPF selftest build is not needed."""
    names = {n for f in (selftests / suite).glob("*.sh") for n in re.findall(r"\.\./bpf/([\w-]+)\.bpf\.o\b", read(f))}
    clang = shutil.which("clang")
    with open(log, "a") as f:
        for name in sorted(names):
            src, obj = selftests / "bpf/progs" / f"{name}.c", selftests / "bpf" / f"{name}.bpf.o"
            if obj.exists() or not src.is_file() or not clang:
                f.write(f"bpf: {name}.bpf.o: {'built' if obj.exists() else 'no source' if clang else 'no clang'}\n")
                continue
            p = subprocess.run([clang, "-O2", "-g", "-target", "bpf", f"-I{tree}/usr/include", "-c", str(src), "-o",
                                str(obj)], capture_output=True, text=True)
            f.write(f"$ clang ... {src}\n{p.stdout}{p.stderr}")


def suite_tests(selftests, suite):
    """What `make run_tests` runs: every TEST_PROGS and TEST_GEN_PROGS entry of the suite's Makefile, in order."""
    text = (selftests / suite / "Makefile").read_text().replace("\\\n", " ")
    out = []
    for m in re.finditer(r"^(TEST_PROGS|TEST_GEN_PROGS)\s*[:+]?=(.*)$", text, re.M):
        value = re.sub(r"(?<!\\)#.*", "", m.group(2))  # make's comment, also after a continued line
        out += [t for t in value.split() if t not in out and not t.startswith("$")]
    return out


def fragments(selftests_dir, suite):
    """The config fragments netdev's CI builds `suite` with: its own, and net/config for drivers/net."""
    return [selftests_dir / suite / "config"] + (
        [selftests_dir / "net" / "config"] if suite.startswith("drivers/net") else [])


def build_fragment(source, suites, say=print):
    """The config fragment `lab build --selftests` adds to the lab base: the suites' fragments from `source`, `=m`
    as `=y` (the lab's kernels have no modules), plus what those options depend on (`depends on`, enclosing
    `if`s, followed to the end: the tinyconfig base has none of what a distribution config brings). Best effort
    (kernel/config.py BEST_EFFORT): what still cannot be set is named by the build. Made once per source and
    suites, in the cache; ConfigError naming a suite the source has no fragment for."""
    out = cache_root() / "kselftest" / "fragments" / \
        f"{'+'.join(s.replace('/', '_') for s in suites)}-{text_sha256(source.identity + repr(suites))[:16]}.config"
    if out.exists():
        return out
    d = Path(source.path) / "tools/testing/selftests"
    asked = []
    for suite in suites:
        parse_spec(suite)
        files = fragments(d, suite)
        if not files[0].is_file():
            raise ConfigError(f"--selftests {suite}: {source.origin} has no tools/testing/selftests/{suite}/config")
        asked += [m.group(1) for f in files for m in map(OPTION.match, read(f).splitlines())
                  if m and m.group(2) in ("y", "m")]
    say(f"selftest: {len(set(asked))} options from {', '.join(suites)}: following their dependencies")
    wanted, todo = [], list(dict.fromkeys(asked))
    while todo and len(wanted) < 1000:
        opt = todo.pop(0)
        if opt in wanted:
            continue
        wanted.append(opt)
        for dep in kconfig_depends(source.path, opt):
            if re.search(r"\(\./arch/(?!x86/)", dep):  # another architecture's entry of the same name
                continue
            expr = first_alternative(re.sub(r"\s*\([^()]*\)$", "", dep))  # less the (file:line) it came from
            todo += [f"CONFIG_{m}" for m in re.findall(r"(?<![!\w])([A-Z][A-Z0-9_]*)\b", expr)]
    text = "\n".join([BEST_EFFORT, f"# tools/testing/selftests/{{{','.join(suites)}}}/config of {source.origin}, "
                      f"=m as =y, and their dependencies", *[f"{o}=y" for o in wanted]]) + "\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + f".{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(out)
    return out


def first_alternative(expr):
    """`A || (B && C)` -> `A`: of a dependency's alternatives, the first (outside parentheses) is the one taken."""
    depth = 0
    for i, c in enumerate(expr):
        depth += (c == "(") - (c == ")")
        if depth == 0 and expr[i:i + 2] == "||":
            return expr[:i]
    return expr


def suite_needs(selftests, suite):
    """The options the suite's fragments ask for: {CONFIG_X: 'y' | 'm'}."""
    out = {}
    for f in fragments(selftests, suite):
        for line in read(f).splitlines():
            m = OPTION.match(line.strip())
            if m and m.group(2) in ("y", "m"):
                out.setdefault(m.group(1), m.group(2))
    return out


def lacking(kernel, needs):
    """The options of `needs` the kernel's config does not have (None: no config to check)."""
    if not kernel.config:
        return None
    return check_options(kernel.config, needs, modular=kernel.modules_dir is not None)[0]


def suite_timeout(selftests, suite):
    """The per-test timeout (s) the suite's `settings` file gives kselftest's runner (45 without one)."""
    m = re.search(r"^timeout=(\d+)", read(selftests / suite / "settings"), re.M)
    return int(m.group(1)) if m else DEFAULT_TIMEOUT


def read(path):
    """A file's text ('' if it cannot be read; a binary's bytes as replacement characters)."""
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return ""
