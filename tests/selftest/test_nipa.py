"""nipa.json in netdev's CI's result format (lab/selftest/nipa.py)."""
import json

from lab.selftest.nipa import namify, nipa_entry, write_nipa


def rec(test, status, **kw):
    return {"suite": "drivers/net", "test": test, "status": status, "seconds": 12.5, **kw}


def test_names_groups_and_results_as_nipa_spells_them(tmp_path):
    assert (namify("udpgso.sh"), namify("ping.py"), namify("drivers/net/hw"), namify("")) == \
        ("udpgso-sh", "ping-py", "drivers-net-hw", "no-name")
    assert nipa_entry(rec("ping.py", "pass")) == {"test": "ping-py", "group": "selftests-drivers-net",
                                                  "result": "pass", "time": 12.5}
    flaky = nipa_entry(rec("stats.py", "flaky", retry="pass"))
    assert (flaky["result"], flaky["retry"]) == ("fail", "pass")  # NIPA's flaky: failed, passed on retry
    crashed = nipa_entry(rec("x.sh", "fail", crashes=[{"fingerprint": "a:b:c:d:e"}],
                             subtests=[{"name": "x.one", "status": "pass"}, {"name": "x.two", "status": "xfail"}]))
    assert crashed["crashes"] == ["a:b:c:d:e"]
    assert crashed["results"] == [{"test": "x-one", "result": "pass"}, {"test": "x-two", "result": "pass"}]
    doc = write_nipa(tmp_path / "nipa.json", [rec("ping.py", "pass")], "dplab", "stock", "s", "e")
    assert json.loads((tmp_path / "nipa.json").read_text()) == doc and set(doc) == {
        "executor", "branch", "start", "end", "results"}
    assert not (tmp_path / "nipa.json.tmp").exists()
