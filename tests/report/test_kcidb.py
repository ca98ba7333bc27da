"""KCIDB v5 export (lab/report/kcidb.py, `lab report --kcidb`), validated with kcidb-io."""
import json
import subprocess
import sys

import pytest

from lab.report.kcidb import kcidb_doc
from lab.results.rundir import RunDir
from tests.support import ROOT
from tests.support.records import xsk_rec

BUILD = {"key": "6d0f778fa5ef7094502c", "config_sha256": "c" * 64,
         "inputs": {"source": "/usr/src/linux-source-6.1.tar.xz", "source_identity": "tarball:" + "a" * 64,
                    "fragments": ["/work/main/kconfigs/lab.config"], "patches": ["patches/x/0001.patch"],
                    "patch_sha256": ["b" * 64], "compiler": "gcc (Debian 12.2.0-14) 12.2.0"}}


def selftest_rec(run, cell, test, status, **kw):
    return {"run_id": run, "cell": cell, "kind": "selftest", "testcase": "selftest:net", "suite": "net", "test": test,
            "status": status, "seconds": 3.5, "kernel": {"name": "stock", "release": "6.1.192"}, **kw}


def test_cells_selftests_subtests_and_crashes_become_valid_kcidb():
    kernels = [{"name": "stock", "release": "6.1.192", "sha256": "d" * 64, "build": BUILD}]
    cell = dict(xsk_rec("stock", 1.0e6, run="r1", cell=1), derived={"insn/pkt": 1234.5}, profile={"packets": 10})
    failed = dict(xsk_rec("stock", None, run="r1", cell=2, size=1500), status="failed", error="guest kernel panic")
    crash = {"kind": "bug", "headline": "BUG: x", "fingerprint": "a:b:c:d:e", "excerpt": "..."}
    tests = [selftest_rec("r2", 1, "udpgso.sh", "pass"), selftest_rec("r2", 2, "x.sh", "fail", crashes=[crash]),
             selftest_rec("r2", 3, "tun", "flaky", retry="pass",
                          subtests=[{"name": "tun.delete_detach_close", "status": "pass"},
                                    {"name": "tun.reattach", "status": "skip"}])]
    doc = kcidb_doc([([cell, failed], {"kernels": kernels}), (tests, {"kernel": kernels[0]})])
    assert doc["version"] == {"major": 5, "minor": 3}
    [checkout], [build] = doc["checkouts"], doc["builds"]  # one source + series, one build: both runs share them
    assert build == {**build, "id": "dplab:6d0f778fa5ef7094502c", "checkout_id": checkout["id"],
                     "compiler": "gcc (Debian 12.2.0-14) 12.2.0", "config_name": "lab-config"}
    assert build["misc"]["config_sha256"] == "c" * 64 and len(checkout["patchset_hash"]) == 64
    by_path = {t["path"]: t for t in doc["tests"]}
    headline = by_path["dplab.xsk.deterministic.virtio0.size-64"]
    assert headline["status"] == "DONE" and headline["number"] == {"value": 1234.5, "unit": "insn/pkt"}
    assert {t["status"] for t in doc["tests"] if t["path"].startswith("dplab.")} == {"DONE", "FAIL"}
    assert by_path["selftests.net.udpgso-sh"]["status"] == "PASS" and by_path["selftests.net.x-sh"]["status"] == "FAIL"
    assert by_path["selftests.net.tun"]["misc"]["flaky"] and by_path["selftests.net.tun.tun-reattach"]["status"] == \
        "SKIP"
    [issue], [incident] = doc["issues"], doc["incidents"]
    assert issue["comment"] == "bug: a:b:c:d:e" and incident["test_id"] == by_path["selftests.net.x-sh"]["id"]
    assert incident["issue_id"] == issue["id"]


def test_an_invalid_document_is_refused_and_the_cli_writes_a_valid_one(tmp_path):
    bad = [{"name": "stock", "build": {**BUILD, "inputs": {**BUILD["inputs"], "commit": "not-a-sha"}}}]
    with pytest.raises(ValueError, match="KCIDB v5.3 validation failed"):
        kcidb_doc([([xsk_rec("stock", 1.0, run="r", cell=1)], {"kernels": bad})])
    rd = RunDir.create(tmp_path, "selftest-net")
    rd.update_manifest(kind="selftest", kernel={"name": "stock", "build": BUILD})
    rd.append_result(selftest_rec(rd.id, 1, "udpgso.sh", "pass"))
    out = tmp_path / "k.json"
    p = subprocess.run([sys.executable, "-m", "lab.cli", "report", str(rd.path), "--kcidb", str(out)], cwd=ROOT,
                       capture_output=True, text=True)
    assert p.returncode == 0 and "valid KCIDB v5.3" in p.stdout, p.stdout + p.stderr
    import kcidb_io
    kcidb_io.schema.LATEST.validate(json.loads(out.read_text()))  # kcidb-io's own check, on the file itself
