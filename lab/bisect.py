"""`lab bisect`: the first commit of a git tree whose kernel the lab's own verdict calls changed against the good
revision (slower or faster by the mode's minimum effect, a functional failure, or a named counter moving).

The good and bad revisions are measured first; a range in which they do not differ stops there. Then a binary
search over the first-parent commits between them: each step builds `TREE@commit` (seeded from the nearest
revision built), runs the testcase on it and compares it with the good revision's records. A commit that does not
build is skipped (its neighbours are tried), as `git bisect skip` does. Every measurement is a run directory under
the bisect's own directory; `bisect.jsonl` logs each step, so a bisect interrupted is resumed from it.
"""
import json
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

from .errors import ConfigError, LabError
from .results.compare import compare
from .results.rundir import final_attempts, new_run_id

GOOD, BAD, SKIP = "good", "bad", "skip"
GOOD_WHY = "the good revision"


@dataclass
class Step:
    commit: str
    subject: str
    status: str        # good | bad | skip
    why: str           # the verdict's line (or the build's error)
    run_dir: str | None = None


def search(commits, classify, max_steps=None):
    """Binary search of `commits` (oldest first; the last is the bad endpoint, the good one comes before the first)
    with `classify(index) -> good | bad | skip`. Returns (index of the first bad commit or None, the indices
    tested, the indices the answer may be among when skips left it open)."""
    lo, hi, tested, skipped = -1, len(commits) - 1, [], set()
    while hi - lo > 1:
        if max_steps is not None and len(tested) >= max_steps:
            return None, tested, list(range(lo + 1, hi + 1))
        mid = (lo + hi) // 2
        order = sorted((i for i in range(lo + 1, hi) if i not in skipped), key=lambda i: (abs(i - mid), i))
        if not order:  # every commit between is skipped: the first bad one is among them and hi
            return None, tested, list(range(lo + 1, hi + 1))
        i = order[0]
        tested.append(i)
        status = classify(i)
        if status == SKIP:
            skipped.add(i)
        elif status == BAD:
            hi = i
        else:
            lo = i
    return hi, tested, []


def git(repo, *args):
    p = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if p.returncode != 0:
        raise ConfigError(f"{repo}: git {' '.join(args)}: {p.stderr.strip()[-300:]}")
    return p.stdout.strip()


def commits_between(repo, good, bad):
    """[(commit, subject)] after `good` up to `bad`, oldest first (first parents: a merge is one step)."""
    out = git(repo, "log", "--reverse", "--first-parent", "--format=%H %s", f"{good}..{bad}")
    rows = [line.split(" ", 1) + [""] for line in out.splitlines() if line]
    if not rows:
        raise ConfigError(f"lab bisect: no commits between {good} and {bad} in {repo} ({bad} is not after {good})")
    return [(c, s[0] if s else "") for c, *s in rows]


def against_good(good_recs, recs):
    """A/B pairs of `recs` against the good revision's records, cell by cell (each side is one kernel: a role such
    as stock built at two revisions, or two names)."""
    def tag(r, side):
        return dict(r, run_id=side, origin_run=r.get("run_id"), kernel={**(r.get("kernel") or {}), "name": "bisected"})
    tagged = [tag(r, "good") for r in good_recs] + [tag(r, "this") for r in recs]
    return compare(tagged, by="run", baseline="good") if good_recs else []


def judge(good_recs, recs, counter=None):
    """(changed, direction, line) of `recs` against the good revision's: a failed cell, `counter` moving, or
    a verdict slower/faster, whichever comes first."""
    failed = [r for r in final_attempts(recs).values() if r.get("status") != "ok"]
    if failed:
        return True, "failure", f"functional failure: {(failed[0].get('error') or failed[0].get('status'))[:160]}"
    pairs = against_good(good_recs, recs)
    for p in pairs:
        if counter:
            moved = [c for n, c in p.counters if n == counter]
            if moved:
                return True, f"counter {counter}", f"{counter} moved {moved[0].change_pct or 0:+.1f}%"
        elif p.result.verdict in ("slower", "faster"):
            r = p.result
            return True, r.verdict, (f"{p.metric} {r.change_pct:+.2f}% [{r.ci_low_pct:+.2f}, {r.ci_high_pct:+.2f}] "
                                     f"{r.verdict}")
    worst = max(pairs, key=lambda p: abs(p.result.change_pct or 0), default=None)
    line = f"{worst.metric} {worst.result.change_pct:+.2f}% {worst.result.verdict}" if worst else "no pairs"
    return False, None, line


class Bisect:
    """One bisection: its directory (bisect.jsonl, a run dir per measurement) and its measurements."""

    def __init__(self, tc, repo, good, bad, opts, counter=None, max_steps=None, directory=None, say=print,
                 kernel="stock"):
        self.tc, self.repo, self.opts, self.counter, self.max_steps, self.say = tc, repo, opts, counter, max_steps, say
        self.kernel = kernel  # what each revision builds: stock, a series under patches/, a kconfig fragment's name
        self.good, self.bad = git(repo, "rev-parse", f"{good}^{{commit}}"), git(repo, "rev-parse", f"{bad}^{{commit}}")
        self.dir = Path(directory) if directory else Path(opts.runs_root) / new_run_id(f"bisect-{tc.name}")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log = self.dir / "bisect.jsonl"
        self.done = {}
        if self.log.exists():  # a bisect interrupted: what it measured stays measured
            for line in self.log.read_text().splitlines():
                try:
                    s = Step(**json.loads(line))
                except (ValueError, TypeError):
                    continue  # a torn last line
                if s.why == GOOD_WHY and s.commit != self.good:
                    raise ConfigError(f"{self.dir}: a bisect from good revision {s.commit[:12]}, not {self.good[:12]}:"
                                      " its steps were judged against that one (another directory, or the same good)")
                self.done[s.commit] = s

    def records(self, step):
        from .results.rundir import load_results
        return load_results(step.run_dir) if step.run_dir else []

    def measure(self, commit, subject, direction=None):
        """The Step of `commit`: built and measured (or skipped when it does not build), judged against good."""
        if commit in self.done:
            return self.done[commit]
        from .runner import run_testcase
        opts = replace(self.opts, kernels=[self.kernel], source=f"{self.repo}@{commit}",
                       runs_root=str(self.dir / "runs"), target=None)
        try:
            rd = run_testcase(self.tc, opts, say=lambda m: None)
        except LabError as e:
            step = Step(commit, subject, SKIP, f"does not build or boot: {str(e).splitlines()[0][:200]}")
        else:
            if commit == self.good:
                step = Step(commit, subject, GOOD, GOOD_WHY, str(rd.path))
            else:
                changed, how, line = judge(self.records(self.done[self.good]), rd.results(), self.counter)
                bad = changed and (direction is None or how == direction)
                why = line if bad or not changed else f"{line} (not {direction}, as the bad revision is)"
                step = Step(commit, subject, BAD if bad else GOOD, why, str(rd.path))
        with open(self.log, "a") as f:
            f.write(json.dumps(vars(step)) + "\n")
        self.done[commit] = step
        return step

    def run(self):
        """Bisect; returns the summary written to bisect.json ({"first_bad": ..., "steps": [...], ...})."""
        rows = commits_between(self.repo, self.good, self.bad)
        g = self.measure(self.good, git(self.repo, "log", "-1", "--format=%s", self.good))
        if g.status == SKIP:
            raise LabError(f"lab bisect: the good revision {self.good[:12]} {g.why}")
        b = self.measure(self.bad, rows[-1][1])
        if b.status == SKIP:
            raise LabError(f"lab bisect: the bad revision {self.bad[:12]} {b.why}")
        changed, direction, line = judge(self.records(g), self.records(b), self.counter)
        self.say(f"good {g.commit[:12]} {g.subject}\nbad  {b.commit[:12]} {b.subject}: {line}")
        summary = {"repo": str(self.repo), "good": self.good, "bad": self.bad, "testcase": str(self.tc.path),
                   "commits": len(rows), "direction": direction}
        if not changed:
            self.say(f"no change between good and bad ({line}): nothing to bisect")
            return self.finish(summary, first_bad=None, verdict="no change between good and bad")
        n = [0]

        def classify(i):
            step = self.measure(*rows[i], direction=direction)
            n[0] += 1
            self.say(f"step {n[0]}: {step.commit[:12]} {step.subject}: {step.status} ({step.why})")
            return step.status

        first, tested, among = search(rows, classify, self.max_steps)
        if first is None:
            names = ", ".join(f"{c[:12]}" for c, _ in (rows[i] for i in among))
            self.say(f"the first bad commit is one of: {names} (skipped or --max-steps reached)")
            return self.finish(summary, first_bad=None, candidates=[rows[i][0] for i in among])
        commit, subject = rows[first]
        self.say(f"first bad commit: {commit} {subject}")
        parent = rows[first - 1][0] if first > 0 else self.good
        moved = self.functions(self.done.get(parent), self.done[commit])
        for name, a, b_, delta in moved:
            self.say(f"  {name}: {a:.1f} -> {b_:.1f} instructions per packet ({delta:+.1f})")
        return self.finish(summary, first_bad=commit, subject=subject, parent=parent,
                           functions=[{"name": m[0], "a": m[1], "b": m[2], "delta": m[3]} for m in moved])

    def functions(self, parent, bad, top=5):
        """The functions whose instructions per packet moved between the first bad commit and its parent (when both
        were measured with the profiler: deterministic mode), largest first."""
        if parent is None or parent.status != GOOD or not parent.run_dir:
            return []
        out = []
        for p in against_good(self.records(parent), self.records(bad)):
            if p.functions:
                out += [(c.name, c.a, c.b, c.delta) for c in p.functions["functions"]]
        return sorted(out, key=lambda m: -abs(m[3]))[:top]

    def finish(self, summary, **fields):
        summary.update(fields, steps=[vars(s) for s in self.done.values()], measured=sum(
            1 for s in self.done.values() if s.status != SKIP))
        (self.dir / "bisect.json").write_text(json.dumps(summary, indent=2) + "\n")
        return summary


def cells_like(records, ctx):
    """The final attempts of `records` that passed and belong to the cell a gate pair's context names."""
    from .results.compare import dims
    return [r for r in final_attempts(records).values()
            if r.get("status") == "ok" and all(dims(r).get(k) == v for k, v in ctx.items())]


def bisect_regressions(regressed, current, previous, run_dirs, repo, root, max_steps=8, limit=2, say=print):
    """`lab gate --bisect TREE`: for each cell the gate found slower than the last passing night (up to `limit`),
    bisect TREE between the commit that night's kernel was built from and tonight's, measuring the cell alone
    (its testcase as tonight's run loaded it, from `run_dirs` {run id: dir}; its link, axis values, mode and kernel
    role). Returns the bisects' summaries."""
    from .runner import RunOptions, load_run
    out = []
    for ctx in regressed[:limit]:
        now, then = cells_like(current, ctx), cells_like(previous, ctx)
        good, bad = ({(r.get("kernel") or {}).get("commit") for r in recs} for recs in (then, now))
        if len(good) != 1 or len(bad) != 1 or None in good | bad or good == bad:
            why = "the two nights' kernels name no single commit each (a night of Debian's tarball, or mixed)" \
                if good != bad else "both nights built the same commit: the change is not in the tree"
            say(f"bisect: {ctx}: not bisected: {why}")
            out.append({"cell": ctx, "first_bad": None, "not_bisected": why})
            continue
        r = now[0]
        _, tc, _ = load_run(run_dirs[r["run_id"]])
        opts = RunOptions(mode=r.get("mode") or "wallclock", links=[r["nic_model"]], runs_root=str(root),
                          axes={k: [v] for k, v in (r.get("params") or {}).items() if k in tc.axes},
                          repeat=max(2, len(now)))
        b = Bisect(tc, repo, good.pop(), bad.pop(), opts, max_steps=max_steps, say=say, kernel=r["kernel"]["name"],
                   directory=Path(root) / new_run_id(f"bisect-{tc.name}"))
        out.append({"cell": ctx, "dir": str(b.dir), **b.run()})
    return out


def verdict_line(b):
    """The gate's line for one of bisect_regressions' summaries: the first bad commit and the functions that moved,
    or why there is none."""
    cell = ", ".join(f"{k}={v}" for k, v in b["cell"].items())
    if b.get("first_bad"):
        moved = "".join(f"; {f['name']} {f['delta']:+.1f}/pkt" for f in b.get("functions", [])[:3])
        return f"bisect {cell}: first bad commit: {b['first_bad']} {b.get('subject', '')}{moved}"
    why = b.get("not_bisected") or b.get("verdict") or \
        f"the first bad commit is one of {', '.join(c[:12] for c in b.get('candidates', []))}"
    return f"bisect {cell}: {why}"
