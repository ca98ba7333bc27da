"""A run directory `runs/<id>/`: manifest.json, console.log, results.jsonl, guest/.

Results are appended (and fsync'd) one JSON line per measurement the moment it
finishes, so an interrupted run keeps what it measured. The manifest is
rewritten atomically (temp file + rename) so it is never half written.
"""
import datetime
import fcntl
import json
import math
import os
import secrets
import sys
import tempfile
import threading
from pathlib import Path

from ..errors import ConfigError, LabError


def atomic_write(path, text):
    """Write text to path via a temp file in the same directory and rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise LabError(f"cannot write {path}: {e.strerror}; earlier results are intact") from e


def load_results(run_dir, warn=lambda m: print(m, file=sys.stderr)):
    """Records of a run dir. Only a torn last line (a crash mid-write) is skipped, and said; a malformed line
    anywhere else means the file was damaged: an error naming file and line, not a silent gap."""
    out = []
    p = Path(run_dir) / "results.jsonl"
    if not p.exists():
        return out
    lines = p.read_bytes().decode(errors="replace").splitlines()
    for n, line in enumerate(lines, 1):
        try:
            rec = json.loads(line)
            if not isinstance(rec, dict) or "cell" not in rec:
                raise LabError(f"{p}:{n}: a JSON {type(rec).__name__} without a cell, not a record; "
                               f"the file is damaged")
            out.append(rec)
        except json.JSONDecodeError as e:
            if n == len(lines):
                warn(f"{p}:{n}: last line torn (a crash while it was written): skipped")
                continue
            raise LabError(f"{p}:{n}: not a JSON record ({e.msg}); the file is damaged, not torn") from None
    return out


def final_attempts(records):
    """The last record of every cell (a retried or re-measured cell counts by its final attempt), keyed by (run,
    cell); `origin_run` (a record re-tagged for a comparison across nights) keeps two run dirs' cells apart."""
    final = {}
    for r in records:
        key = (r.get("run_id"), r.get("origin_run"), r.get("testcase"), r["cell"]) if "cell" in r else id(r)
        final[key] = r
    return final


def load_runs(paths):
    """(run dirs, their records merged) from run directory paths; a path that is not one is an error naming it."""
    runs, recs = [], []
    for p in paths:
        p = Path(p)
        if not (p / "manifest.json").exists():
            raise ConfigError(f"{p}: not a run directory (no manifest.json)")
        rd = RunDir(p)
        runs.append(rd)
        recs += rd.results()
    return runs, recs


def finite(obj):
    """`obj` with every NaN or infinity replaced by None: records stay valid JSON every reader can load."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def new_run_id(label):
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{label}-{secrets.token_hex(2)}"


class RunDir:
    """One run's directory on the host. The guest may write only under `guest/`."""

    def __init__(self, path):
        self.path = Path(path)
        self.manifest = {}
        self.mutex = threading.Lock()  # guests at once (--jobs): their threads append, update and stage in turn
        mf = self.path / "manifest.json"
        if mf.exists():
            try:
                self.manifest = json.loads(mf.read_text())
            except (ValueError, UnicodeDecodeError) as e:
                raise ConfigError(f"{mf}: damaged ({e}); its records are in {self.path / 'results.jsonl'}") from None
            if not isinstance(self.manifest, dict):
                raise ConfigError(f"{mf}: damaged (a {type(self.manifest).__name__}, not an object)")

    @classmethod
    def create(cls, root, label):
        root = Path(root)
        root.mkdir(parents=True, exist_ok=True)
        path = root / new_run_id(label)
        path.mkdir()
        (path / "guest").mkdir()
        rd = cls(path)
        rd.update_manifest(id=path.name, started=now_iso())
        return rd

    @property
    def id(self):
        return self.path.name

    @property
    def guest_dir(self):
        return self.path / "guest"

    @property
    def console_log(self):
        return self.path / "console.log"

    def update_manifest(self, **fields):
        with self.mutex:
            self.manifest.update(fields)
            text = json.dumps(self.manifest, indent=2, sort_keys=True, default=str)
            atomic_write(self.path / "manifest.json", text + "\n")

    def lock(self):
        """Hold this run dir for this process (run, resume) until it exits: a second `lab run --resume` of it is
        refused instead of measuring the same cells twice."""
        fd = os.open(self.path / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ConfigError(f"{self.path}: another lab process is running or resuming this run dir") from None
        self._lock_fd = fd

    def unlock(self):
        fd, self._lock_fd = getattr(self, "_lock_fd", None), None
        if fd is not None:
            os.close(fd)

    def append_result(self, record):
        """Append one record as a JSON line and fsync it before returning. A torn last line (a crash or a full
        disk mid-write) is moved to results.torn first, so the new record starts a line of its own; a write that
        fails is truncated back, so the file never ends in half a record."""
        line = json.dumps(finite(record), sort_keys=True, default=str, allow_nan=False) + "\n"
        with self.mutex:
            self._append(line)

    def _append(self, line):
        path = self.path / "results.jsonl"
        new = not path.exists()
        try:
            with open(path, "a+b") as f:
                size = f.seek(0, os.SEEK_END)
                size = self._repair_tail(f, size)
                try:
                    f.write(line.encode())
                    f.flush()
                    os.fsync(f.fileno())
                except OSError:
                    f.truncate(size)
                    raise
            if new:  # the file's directory entry must survive a crash too
                fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        except OSError as e:
            raise LabError(f"cannot append to {self.path / 'results.jsonl'}: {e.strerror}; "
                           f"earlier results are intact") from e

    def _repair_tail(self, f, size):
        """Cut a last line without its newline off the end (kept in results.torn); returns the new size."""
        if size == 0:
            return 0
        f.seek(max(0, size - (1 << 20)))
        tail = f.read()
        if tail.endswith(b"\n"):
            return size
        cut = size - (len(tail) - (tail.rfind(b"\n") + 1))
        with open(self.path / "results.torn", "ab") as t:
            t.write(tail[tail.rfind(b"\n") + 1:] + b"\n")
        f.truncate(cut)
        f.seek(0, os.SEEK_END)
        return cut

    def results(self):
        return load_results(self.path)


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
