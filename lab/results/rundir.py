"""A run directory `runs/<id>/`: manifest.json, console.log, results.jsonl, guest/.

Results are appended (and fsync'd) one JSON line per measurement the moment it
finishes, so an interrupted run keeps what it measured. The manifest is
rewritten atomically (temp file + rename) so it is never half written.
"""
import datetime
import json
import os
import secrets
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


def load_results(run_dir):
    """Records of a run dir; a torn last line (a crash mid-write) is skipped."""
    out = []
    p = Path(run_dir) / "results.jsonl"
    if not p.exists():
        return out
    for line in p.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
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
        try:
            with open(self.path / "results.jsonl", "a") as f:
                f.write(line)
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            raise LabError(f"cannot append to {self.path / 'results.jsonl'}: {e.strerror}; earlier results are intact") from e

    def results(self):
        return load_results(self.path)


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
