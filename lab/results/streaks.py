"""Kernel selftests' streaks over nights, NIPA's stability rule: a test is `passing` after more than
STABLE consecutive passes. Tonight's verdicts update the last night's streaks (its gate.json `streaks`):
a failure of a passing test fails the night, a test never seen passing is reported without failing it, a
flaky one (failed, passed on its retry) is counted and keeps its streak."""

STABLE = 15


def streak_key(r):
    """A selftest as nights know it: `kernel name / selftests-<suite> / test`."""
    return f"{(r.get('kernel') or {}).get('name')}/selftests-{r.get('suite') or r['testcase'].split(':', 1)[-1]}" \
           f"/{r['test']}"


def update_streaks(previous, records):
    """(streaks, report lines, failing lines) from the last night's `streaks` ({key: {passes, ever_passed,
    flaky}}) and tonight's selftest records."""
    streaks = {k: dict(v) for k, v in (previous or {}).items()}
    lines, failing = [], []
    for r in records:
        if r.get("kind") != "selftest":
            continue
        key = streak_key(r)
        s = streaks.setdefault(key, {"passes": 0, "ever_passed": False, "flaky": 0})
        was_passing = s["passes"] > STABLE
        if r["status"] == "pass":
            s["passes"] += 1
            s["ever_passed"] = True
        elif r["status"] == "flaky":
            s["flaky"] += 1
            lines.append(f"flaky {key} (failed, passed on its retry; {s['flaky']} nights so far)")
        elif r["status"] == "fail":
            if was_passing:
                failing.append(f"FAIL {key}: was passing ({s['passes']} passes in a row), fails tonight")
            elif s["ever_passed"]:
                lines.append(f"fail {key}: passed before, not yet stable ({s['passes']} passes in a row)")
            else:
                lines.append(f"fail {key}: never seen passing (reported, does not fail the night)")
            s["passes"] = 0
    return streaks, lines, failing


def streaks_over(records):
    """{key: {passes, ever_passed, flaky, passing}} after every run of `records` in run order (run ids start with
    their time): what `lab report` shows beside each selftest when given several nights' run dirs."""
    runs = {}
    for r in records:
        if r.get("kind") == "selftest":
            runs.setdefault(r.get("run_id") or "", []).append(r)
    streaks = {}
    for run_id in sorted(runs):
        streaks, _, _ = update_streaks(streaks, runs[run_id])
    return {k: {**v, "passing": v["passes"] > STABLE} for k, v in streaks.items()}
