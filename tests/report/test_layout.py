"""The HTML report in headless Chromium: no label overflows, overlaps or is cut."""
import json
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from lab.report.html import render_report
from lab.results.rundir import RunDir

CHROMIUM = shutil.which("chromium")


pytestmark = pytest.mark.skipif(not CHROMIUM, reason="chromium not installed (make setup installs it)")


CHECK = """<script>
window.addEventListener("load", () => {
  const bad = [];
  const box = (e) => e.getBoundingClientRect();
  const overlap = (a, b) => a.left < b.right - 0.5 && b.left < a.right - 0.5 &&
                            a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5;
  for (const svg of document.querySelectorAll("svg")) {
    const s = box(svg);
    const texts = [...svg.querySelectorAll("text")];
    for (const t of texts) {
      const r = box(t);
      if (r.left < s.left - 0.5 || r.right > s.right + 0.5 || r.top < s.top - 0.5 || r.bottom > s.bottom + 0.5)
        bad.push(`outside its chart: "${t.textContent.slice(0, 60)}" in "${svg.getAttribute("aria-label")}"`);
      const title = t.querySelector("title");
      const shown = [...t.querySelectorAll("tspan")].map(x => x.textContent).join("").replace(/\\s+/g, "");
      if (title && title.textContent.replace(/\\s+/g, "") !== shown)  // every character shown, wrapped or not
        bad.push(`cut: "${title.textContent}" shown as "${shown}"`);
    }
    for (const cls of ["tick", "lbl", "val", "ttl"]) {
      const same = texts.filter(t => t.getAttribute("class") === cls);
      for (let i = 0; i < same.length; i++)
        for (let j = i + 1; j < same.length; j++)
          if (overlap(box(same[i]), box(same[j])))
            bad.push(`overlap (${cls}): "${same[i].textContent.slice(0, 40)}" / "${same[j].textContent.slice(0, 40)}"`);
    }
  }
  for (const td of document.querySelectorAll("td, th"))
    if (td.scrollWidth > td.clientWidth + 1) bad.push(`table cell overflows: "${td.textContent.slice(0, 60)}"`);
  const pre = document.createElement("pre");
  pre.id = "layout-result";
  pre.textContent = JSON.stringify({svgs: document.querySelectorAll("svg").length, bad});
  document.body.appendChild(pre);
});
</script>"""


KERNELS = ["debian-6.1.0-56-amd64-with-a-rather-long-local-suffix", "holdout-slow-xmit-virtio-net-start-xmit-loop-200",
           "holdout-small-cost-virtio-net-start-xmit-loop-10", "stock"]


def rec(run, cell, kernel, link, params, value, mode, started):
    derived = {"tx_packets": 10000}
    unit, metric = "Gbit/s", "throughput"
    if mode == "deterministic":
        derived["sender-cpu-ns/pkt"] = 1e9 / value
        unit, metric = "pkts/cpu-s", "tx rate"
    return {"run_id": run, "cell": cell, "testcase": "xsk" if mode == "deterministic" else "throughput",
            "kernel": {"name": kernel, "sha256": kernel.ljust(64, "0")}, "link": link, "nic_model": link[:-1],
            "params": params, "status": "ok", "value": value, "metric": metric, "unit": unit, "higher_is_better": True,
            "mode": mode, "accel": "tcg", "cpu_model": "max", "started": started, "derived": derived,
            "counters": {"a.link.tx_packets": 10000}}


def make_runs(root):
    rng = random.Random(4)
    dirs = []
    for night in range(6):
        for mode in ("wallclock", "deterministic"):
            rd = RunDir.create(root, f"n{night}-{mode}")
            rd.update_manifest(accel="tcg", mode=mode, status="ok",
                               kernels=[{"name": k, "sha256": "ab" * 32} for k in KERNELS],
                               qemu_argv=["qemu-system-x86_64", "-m", "2G"],
                               host={"host_machine": "x86_64", "host_cpus": 2})
            n = 0
            for k, kernel in enumerate(KERNELS):
                for link in ("virtio0", "e1000e1"):
                    for size in (64, 512, 1024, 1500):
                        params = {"size": size, "burst": 32,
                                  "xmit_mode": "start_xmit"} if mode == "wallclock" else {"size": size}
                        level = (1 + 0.1 * k) * (3.9e5 if mode == "deterministic" else 0.6)
                        for _ in range(3):
                            n += 1
                            rd.append_result(rec(rd.id, n, kernel, link, params, rng.gauss(level, level * 0.004), mode,
                                                 f"2026-11-{10 + night}T02:{10 + n % 50:02d}:00"))
            dirs.append(rd.path)
    return dirs


def test_no_label_overflows_overlaps_or_is_cut_in_chromium(tmp_path):
    html = tmp_path / "report.html"
    render_report(make_runs(tmp_path / "runs"), html)
    text = html.read_text()
    assert "insn/pkt" in text and "pkts/cpu-s" not in re.sub(r"<td[^>]*>.*?</td>", "", text)  # headline unit
    checked = tmp_path / "checked.html"
    checked.write_text(text.replace("</body>", CHECK + "</body>"))
    dom = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                          "--disable-background-networking", "--disable-component-update", "--disable-sync",
                          f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,2400",
                          "--virtual-time-budget=5000",
                          "--dump-dom", checked.as_uri()], capture_output=True, text=True, timeout=120).stdout
    m = re.search(r'<pre id="layout-result">(.*?)</pre>', dom, re.S)
    assert m, dom[-2000:]
    text = m.group(1).replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    result = json.loads(text)
    assert result["svgs"] >= 6, result  # forest plots, bars and history of both testcases
    assert result["bad"] == [], "\n".join(result["bad"][:30])
    from lab.report.screenshot import screenshot
    png = screenshot(html, tmp_path / "report.png")
    assert Path(png).stat().st_size > 50_000
