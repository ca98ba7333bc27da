"""`lab report --kcidb FILE`: run dirs as KernelCI's KCIDB I/O data (schema v5), where kernel CI results from many
labs meet. A checkout is a source + patch series, a build a `lab build` key (its config hash and compiler), a
test a selftest (its own results as child paths) or a measured cell (its headline as the numeric output, with
its unit); crash fingerprints are issues, each test that hit one an incident. Validated with kcidb-io."""
import hashlib
import re

ORIGIN = "dplab"
STATUS = {"pass": "PASS", "fail": "FAIL", "skip": "SKIP", "flaky": "PASS", "xfail": "PASS", "ok": "DONE"}


def _h(text, n=16):
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def _seg(text):
    """One component of a KCIDB test path: letters, digits, `_` and `-`."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", str(text)).strip("-") or "x"


def _kernel_entries(kernel, manifest_kernels):
    """(checkout, build) of a record's kernel, from the run manifest's description of it where it has one."""
    full = next((k for k in manifest_kernels if k.get("name") == kernel.get("name")), {})
    b = full.get("build") or {}
    inp = b.get("inputs") or {}
    patches = inp.get("patch_sha256") or []
    source = inp.get("source_identity") or f"kernel:{kernel.get('release')}"
    checkout = {"id": f"{ORIGIN}:{_h(source + '|' + ','.join(patches))}", "origin": ORIGIN,
                "tree_name": _seg(inp.get("source") or kernel.get("name") or "kernel"), "valid": True,
                "patchset_hash": hashlib.sha256("".join(p + "\n" for p in patches).encode()).hexdigest()
                if patches else "",
                "misc": {"source": inp.get("source"), "source_identity": source, "patches": inp.get("patches", [])}}
    if inp.get("commit"):
        checkout["git_commit_hash"] = inp["commit"]
    key = b.get("key") or kernel.get("build_key") or _h(kernel.get("sha256") or kernel.get("release") or "?")
    build = {"id": f"{ORIGIN}:{key}", "origin": ORIGIN, "checkout_id": checkout["id"], "architecture": "x86_64",
             "status": "PASS", "config_name": "+".join(_seg(f.rsplit("/", 1)[-1]) for f in inp.get("fragments", []))
             or (kernel.get("name") or "kernel"),
             "misc": {"kernel": kernel.get("name"), "release": kernel.get("release"),
                      "config_sha256": b.get("config_sha256") or full.get("config_sha256"),
                      "bzImage_sha256": kernel.get("sha256") or full.get("sha256")}}
    if inp.get("compiler"):
        build["compiler"] = inp["compiler"]
    return checkout, build


def _tests(r, build_id):
    """The KCIDB tests of one record: a selftest and its subtests, or a measured cell with its headline."""
    from ..results.headline import headline
    tid = f"{ORIGIN}:{r['run_id']}:{r['cell']}"
    if r.get("kind") == "selftest":
        path = ".".join(["selftests", *map(_seg, r["suite"].split("/")), _seg(r["test"])])
        out = [{"id": tid, "origin": ORIGIN, "build_id": build_id, "path": path, "status": STATUS[r["status"]],
                "duration": float(r["seconds"]), "misc": {"retry": r.get("retry"), "why": r.get("why"),
                                                         "flaky": r["status"] == "flaky"}}]
        out += [{"id": f"{tid}.{i}", "origin": ORIGIN, "build_id": build_id, "path": f"{path}.{_seg(s['name'])}",
                 "status": STATUS[s["status"]]} for i, s in enumerate(r.get("subtests") or [], 1)]
        return out
    params = ".".join(_seg(f"{k}-{v}") for k, v in sorted((r.get("params") or {}).items()))
    path = ".".join(x for x in ("dplab", _seg(r["testcase"]), _seg(r.get("mode") or "wallclock"),
                                _seg(r.get("link") or "nolink"), params) if x)
    test = {"id": tid, "origin": ORIGIN, "build_id": build_id, "path": path,
            "status": "DONE" if r.get("status") == "ok" else "FAIL",
            "environment": {"comment": f"QEMU {r.get('accel')}, {r.get('nic_model')} link, {r.get('cpu_model')}"},
            "misc": {"repeat_index": r.get("repeat_index"), "error": (r.get("error") or "")[:500] or None}}
    if r.get("status") == "ok":
        h = headline(r)
        if h.value is not None:
            test["number"] = {"value": float(h.value), "unit": h.unit}
    if isinstance(r.get("elapsed"), (int, float)):
        test["duration"] = float(r["elapsed"])
    return [test]


def kcidb_doc(runs):
    """KCIDB v5 I/O data of [(records, manifest)] of run dirs; validated (kcidb-io), ValueError if it is not."""
    import kcidb_io
    schema = kcidb_io.schema.LATEST
    doc = {"version": {"major": schema.major, "minor": schema.minor}, "checkouts": [], "builds": [], "tests": [],
           "issues": [], "incidents": []}
    seen = set()
    for records, manifest in runs:
        kernels = manifest.get("kernels") or ([manifest["kernel"]] if isinstance(manifest.get("kernel"), dict) else [])
        for r in records:
            checkout, build = _kernel_entries(r.get("kernel") or {}, kernels)
            for kind, obj in (("checkouts", checkout), ("builds", build)):
                if (kind, obj["id"]) not in seen:
                    seen.add((kind, obj["id"]))
                    doc[kind].append(obj)
            tests = _tests(r, build["id"])
            doc["tests"] += tests
            for c in r.get("crashes") or []:
                iid = f"{ORIGIN}:{_h(c['fingerprint'] or c['headline'])}"
                if ("issues", iid) not in seen:
                    seen.add(("issues", iid))
                    doc["issues"].append({"id": iid, "origin": ORIGIN, "version": 0, "culprit": {"code": True},
                                          "comment": f"{c['kind']}: {c['fingerprint'] or c['headline']}"[:400]})
                doc["incidents"].append({"id": f"{tests[0]['id']}:{iid.split(':')[1]}", "origin": ORIGIN,
                                         "issue_id": iid, "issue_version": 0, "test_id": tests[0]["id"],
                                         "present": True})
    try:
        schema.validate(doc)
    except Exception as e:  # jsonschema's ValidationError: said with the path into the document
        raise ValueError(f"KCIDB v{schema.major}.{schema.minor} validation failed: {str(e).splitlines()[0]}") from None
    return doc
