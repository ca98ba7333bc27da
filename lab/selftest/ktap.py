"""KTAP / TAP 13 as kselftest's runner prints it: a verdict per test, the test's own output (prefixed `# `), and
in that output the test's own nested results (kselftest_harness, ksft_test_result_*), one level down."""
import re
from dataclasses import dataclass, field

RESULT = re.compile(r"^(not ok|ok) \d+ selftests: (\S+): (\S+)(?: # (SKIP|TIMEOUT|exit=\d+)\S*)?")
NESTED = re.compile(r"^(not ok|ok) (\d+) (.*?)(?:\s+#\s*(SKIP|XFAIL|TODO)\b.*)?$")


@dataclass
class TapResult:
    """One test's verdict (pass | fail | skip), why if the runner said (TIMEOUT, exit=N), its output lines, and
    the results the test printed itself: [{name, status}]."""

    verdict: str
    suite: str
    test: str
    output: list
    why: str = ""
    subtests: list = field(default_factory=list)


def parse_tap(text):
    """[TapResult] from kselftest runner output."""
    out, lines = [], []
    for line in text.splitlines():
        m = RESULT.match(line)
        if m:
            verdict = "skip" if m.group(4) == "SKIP" else "pass" if m.group(1) == "ok" else "fail"
            out.append(TapResult(verdict, m.group(2), m.group(3), lines, why=m.group(4) or "",
                                 subtests=nested(lines)))
            lines = []
        elif line.startswith("# ") and not line.startswith("# selftests: "):  # the runner's header: KTAP adds its own
            lines.append(line[2:])
    return out


def nested(lines):
    """The test's own results in its output: [{name, status: pass|fail|skip|xfail}], numbered as it printed them."""
    out = []
    for line in lines:
        m = NESTED.match(line)
        if m and m.group(3):
            directive = (m.group(4) or "").lower()
            status = directive if directive in ("skip", "xfail") else "pass" if m.group(1) == "ok" else "fail"
            out.append({"name": m.group(3).strip(), "status": status})
    return out


def ktap_block(number, suite, test, verdict, output, note=""):
    """The lines one test adds to selftests.ktap: its header, its output (last 200 lines) and its result line."""
    directive = " # SKIP" if verdict == "skip" else f" # {note}" if note else ""
    return [f"# selftests: {suite}: {test}", *[f"# {line}" for line in output[-200:]],
            f"{'ok' if verdict in ('pass', 'skip', 'flaky') else 'not ok'} {number} selftests: {suite}: {test}"
            + directive]
