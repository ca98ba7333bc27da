"""`nipa.json`: a selftest run in the result format of netdev's CI (NIPA's contest, vmksft-p): one entry per test,
`{test, group, result, time, retry?, crashes?, results?}` under `{executor, branch, start, end, results}`."""
import json
import re


def namify(what):
    """NIPA's test and group names: every run of characters other than letters and digits becomes one `-`."""
    name = re.sub(r"[^0-9a-zA-Z]+", "-", what or "")
    return name.rstrip("-") or "no-name"


def nipa_entry(record):
    """A selftest record (lab/selftest/run.py) as NIPA's result: a flaky test is `fail` with `retry: pass`."""
    first = "fail" if record["status"] == "flaky" else record["status"]
    entry = {"test": namify(record["test"]), "group": "selftests-" + namify(record["suite"]), "result": first,
             "time": record["seconds"]}
    if record.get("retry"):
        entry["retry"] = record["retry"]
    if record.get("crashes"):
        entry["crashes"] = [c["fingerprint"] for c in record["crashes"]]
    if record.get("subtests"):
        entry["results"] = [{"test": namify(s["name"]), "result": "pass" if s["status"] == "xfail" else s["status"]}
                            for s in record["subtests"]]
    return entry


def write_nipa(path, records, executor, branch, start, end):
    """Write NIPA's JSON of `records` to `path` (the file is replaced whole: a reader never sees half of it)."""
    doc = {"executor": executor, "branch": branch, "start": start, "end": end,
           "results": [nipa_entry(r) for r in records]}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    tmp.replace(path)
    return doc
