"""Serial console capture and scanning for kernel crash reports."""
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field

# (kind, pattern): first match wins; order from worst to mildest.
PATTERNS = [
    ("init-failure", re.compile(r"dplab-init: FATAL: (.*)")),
    ("panic", re.compile(r"Kernel panic - not syncing: (.*)")),
    ("kasan", re.compile(r"BUG: KASAN: (.*)")),
    ("bug", re.compile(r"BUG: (.*)")),
    ("oops", re.compile(r"(?:Oops: |general protection fault)(.*)")),
    ("warning", re.compile(r"WARNING: (?:CPU: \d+ PID: \d+ at )?(.*)")),
]
FATAL_KINDS = {"panic", "init-failure"}
RIP = re.compile(r"RIP: 0010:(\S+)")
TRACE_FN = re.compile(r"^\s*(?:\[\s*[\d.]+\]\s*)?\s*([A-Za-z_][\w.]*\+0x[0-9a-f]+/0x[0-9a-f]+)")
STAMP = re.compile(r"^\[\s*\d+\.\d+\]\s?")


@dataclass
class CrashReport:
    """A kernel report found on the console: kind, its first line, and the lines around it."""

    kind: str
    headline: str
    lines: list = field(default_factory=list)
    at: float = 0.0

    @property
    def excerpt(self):
        return "\n".join(self.lines)

    @property
    def fingerprint(self):
        """Function of the fault (RIP) + top of the call trace, with offsets dropped: stable across runs."""
        fns = []
        for line in self.lines:
            m = RIP.search(line)
            if m:
                fns.insert(0, m.group(1).split("+")[0])
            m = TRACE_FN.match(line)
            if m and len(fns) < 4:
                fns.append(m.group(1).split("+")[0])
        seen = []
        for f in fns:
            if f not in seen:
                seen.append(f)
        return f"{self.kind}:" + ("/".join(seen[:3]) if seen else STAMP.sub("", self.headline)[:80])


def classify(line):
    """(kind, headline) if the line starts a kernel report, else None."""
    for kind, pat in PATTERNS:
        m = pat.search(line)
        if m:
            return kind, STAMP.sub("", line.strip())
    return None


def scan_text(text, context_after=30):
    """All reports in a console text (for unit tests and post-mortems)."""
    lines = text.splitlines()
    out = []
    i = 0
    while i < len(lines):
        c = classify(lines[i])
        if c:
            out.append(CrashReport(c[0], c[1], lines[max(0, i - 3): i + context_after]))
            i += context_after
        else:
            i += 1
    return out


class ConsoleWatcher:
    """Reads QEMU's serial output line by line in a thread: writes console.log, keeps a tail, finds reports."""

    def __init__(self, stream, log_path, tail_lines=60, context_after=30):
        self.stream = stream
        self.log_path = log_path
        self.tail = deque(maxlen=tail_lines)
        self.context_after = context_after
        self.reports = []
        self.markers = {}
        self.eof = threading.Event()
        self._lock = threading.Lock()
        self._open = None  # report still collecting its context lines
        self._thread = threading.Thread(target=self._loop, daemon=True, name="console")
        self._thread.start()

    def _loop(self):
        with open(self.log_path, "ab", buffering=0) as log:
            for raw in iter(self.stream.readline, b""):
                log.write(raw)
                line = raw.decode(errors="replace").rstrip("\r\n")
                self._feed(line)
        self.eof.set()

    def _feed(self, line):
        with self._lock:
            self.tail.append(line)
            if line.startswith("dplab-"):
                self.markers.setdefault(line.split(":")[0].split()[0], time.monotonic())
            if self._open is not None:
                self._open.lines.append(line)
                if len(self._open.lines) >= self.context_after + 3:
                    self._open = None
            c = classify(line)
            if c and self._open is None:
                rep = CrashReport(c[0], c[1], list(self.tail)[-4:], at=time.monotonic())
                self.reports.append(rep)
                self._open = rep

    def wait_eof(self, timeout):
        self.eof.wait(timeout)

    def tail_text(self, n=40):
        with self._lock:
            return "\n".join(list(self.tail)[-n:])

    def fatal(self, settle=1.0):
        """The first panic-class report once its context had `settle` s to arrive (or the console ended)."""
        with self._lock:
            for r in self.reports:
                if r.kind in FATAL_KINDS and (time.monotonic() - r.at >= settle or self.eof.is_set()):
                    return r
        return None

    def reports_since(self, index):
        with self._lock:
            return self.reports[index:]


NEEDLE = re.compile(r".*(?:  |0:|>\] )([a-z0-9_.]+)\+0x[0-9a-f]+/0x[0-9a-f]+")


def fingerprint5(lines, ignore=()):
    """NIPA's crash fingerprint: the first 5 functions of the trace in `lines`, joined by `:`, after skipping a
    leading run of functions that `ignore` lists (each a list of names: a prefix the trace may start with)."""
    needles, skip = [], 0
    for line in lines:
        m = NEEDLE.match(line)
        if not m:
            continue
        needles.append(m.group(1))
        skip = next((len(p) for p in ignore if len(needles) >= len(p) and needles[:len(p)] == list(p)), 0)
        if len(needles) - skip == 5:
            break
    return ":".join(needles[skip:])


def read_ignore(path):
    """An ignore list file: one prefix per line, function names joined by `:` (`#` starts a comment)."""
    from pathlib import Path
    out = []
    for line in Path(path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out.append(line.split(":"))
    return out


def kmemleak_reports(text):
    """A CrashReport per `unreferenced object` block of /sys/kernel/debug/kmemleak (kind `kmemleak`)."""
    out = []
    for line in text.splitlines():
        if line.startswith("unreferenced object 0x"):
            out.append(CrashReport("kmemleak", line.strip(), [line]))
        elif out:
            out[-1].lines.append(line)
    return out
