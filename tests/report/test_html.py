"""The HTML report (lab/report/html.py): every section present."""
import re
from html.parser import HTMLParser

from lab.results.rundir import RunDir


def rec(run, cell, kernel, link, params, value, pkts=1000, xmit=1000):
    return {"run_id": run, "cell": cell, "testcase": "t", "kernel": {"name": kernel}, "link": link, "params": params,
            "status": "ok", "value": value, "metric": "throughput", "unit": "Gbit/s", "higher_is_better": True,
            "started": "2026-11-23T02:00:00", "derived": {"tx_packets": pkts}, "counters": {"a.link.tx_packets": pkts},
            "perf": {"net:net_dev_xmit": xmit}}


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.tags = set(), []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.ids.update(v for k, v in attrs if k == "id")


def test_html_report_has_every_section(tmp_path):
    from lab.report.html import render_report
    dirs = []
    for run in range(2):
        rd = RunDir.create(tmp_path / "runs", f"t{run}")
        rd.update_manifest(accel="tcg", mode="wallclock", status="ok", qemu_argv=["qemu-system-x86_64", "-m", "2G"],
                           kernels=[{"name": "stock", "release": "6.1", "sha256": "ab" * 32, "build": {}}],
                           host={"host_machine": "x86_64", "host_cpus": 2})
        for i in range(3):
            rd.append_result(rec(rd.id, 2 * i, "stock", "virtio0", {"offload": "on"}, 3 + 0.1 * i + run))
            rd.append_result(rec(rd.id, 2 * i + 1, "stock", "virtio0", {"offload": "off"}, 1 + 0.1 * i, xmit=3000 + i))
        rd.append_result({**rec(rd.id, 9, "stock", "virtio0", {"offload": "on"}, 0), "status": "crash",
                          "error": "guest kernel panic: <script>x</script>", "fingerprint": "panic:foo/bar"})
        dirs.append(rd.path)
    out = tmp_path / "report.html"
    render_report(dirs, out, by="offload")
    html = out.read_text()
    p = _Collect()
    p.feed(html)
    assert {"tc-t", "verdicts-t", "plots-t", "history-t", "counters-t", "failures", "cells", "manifest"} <= p.ids
    assert html.count("<svg") >= 3 and "slower" in html and "panic:foo/bar" in html
    assert "<script>x</script>" not in html  # autoescaped
    assert re.search(r'href="runs/[^"]+/console.log"', html)


def test_the_report_shows_each_selftests_streak_over_the_runs_it_is_given(tmp_path):
    """Several nights' `lab selftest` run dirs: each test's passes in a row after the last of them (NIPA's rule:
    passing after more than 15), never-passed and flaky ones said as such."""
    from lab.report.html import render_report
    from lab.results.streaks import streaks_over
    nights = []
    for night in range(17):
        rd = RunDir.create(tmp_path / "runs", f"selftest-net-{night:02d}")
        rd.update_manifest(kind="selftest", mode="selftest", status="ok", accel="tcg",
                           testcase={"name": "selftest:net"}, kernel={"name": "stock", "release": "6.1.192"})
        for cell, (test, status) in enumerate([("udpgso.sh", "pass"), ("pmtu.sh", "fail"),
                                               ("tun", "flaky" if night == 16 else "pass")]):
            rd.append_result({"run_id": rd.id, "cell": cell, "kind": "selftest", "testcase": "selftest:net",
                              "suite": "net", "test": test, "params": {"test": test}, "status": status,
                              "seconds": 1.0, "kernel": {"name": "stock", "release": "6.1.192"}, "output_tail": ""})
        nights.append(rd.path)
    recs = [r for p in nights for r in RunDir(p).results()]
    s = streaks_over(recs)
    assert s["stock/selftests-net/udpgso.sh"] == {"passes": 17, "ever_passed": True, "flaky": 0, "passing": True}
    assert s["stock/selftests-net/pmtu.sh"]["passing"] is False and not s["stock/selftests-net/pmtu.sh"]["ever_passed"]
    assert s["stock/selftests-net/tun"] == {"passes": 16, "ever_passed": True, "flaky": 1, "passing": True}
    out = tmp_path / "report.html"
    render_report(nights, out)
    html = out.read_text()
    assert "2 passing,\n0 passed but not yet stable,\n1 never seen passing,\n1 flaky at least once." in html
    assert "17 in a row (passing)" in html and "0 in a row (never passed)" in html
    assert "16 in a row (passing), flaky 1×" in html
