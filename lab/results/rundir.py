"""A run directory `runs/<id>/`: manifest.json, console.log, results.jsonl, guest/.

Results are appended (and fsync'd) one JSON line per measurement the moment it
finishes, so an interrupted run keeps what it measured. The manifest is
rewritten atomically (temp file + rename) so it is never half written.
"""
import datetime
import json
import os
import secrets
import sys
import tempfile
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
    lines = p.read_text().splitlines()
    for n, line in enumerate(lines, 1):
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as e:
            if n == len(lines):
                warn(f"{p}:{n}: last line torn (a crash while it was written): skipped")
                continue
            raise LabError(f"{p}:{n}: not a JSON record ({e.msg}); the file is damaged, not torn") from None
    return out


def final_attempts(records):
    """The last record of every cell (a retried cell counts by its final attempt), keyed by (run, cell)."""
    final = {}
    for r in records:
        final[(r.get("run_id"), r["cell"])] = r
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


def new_run_id(label):
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{label}-{secrets.token_hex(2)}"


class RunDir:
    """One run's directory on the host. The guest may write only under `guest/`."""

    def __init__(self, path):
        self.path = Path(path)
        self.manifest = {}
        mf = self.path / "manifest.json"
        if mf.exists():
            self.manifest = json.loads(mf.read_text())

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
        self.manifest.update(fields)
        atomic_write(self.path / "manifest.json", json.dumps(self.manifest, indent=2, sort_keys=True, default=str) + "\n")

    def append_result(self, record):
        """Append one record as a JSON line and fsync it before returning."""
        line = json.dumps(record, sort_keys=True, default=str) + "\n"
        path = self.path / "results.jsonl"
        new = not path.exists()
        try:
            with open(path, "a") as f:
                f.write(line)
                f.flush()
                os.fsync(f.fileno())
            if new:  # the file's directory entry must survive a crash too
                fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        except OSError as e:
            raise LabError(f"cannot append to {self.path / 'results.jsonl'}: {e.strerror}; earlier results are intact") from e

    def results(self):
        return load_results(self.path)


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
