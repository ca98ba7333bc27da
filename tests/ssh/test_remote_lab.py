"""remote-lab against a real sshd: the lab runs there and its run dir comes back."""
import subprocess
import time
from pathlib import Path

import pytest

from tests.support import LAB, ROOT
from tests.support.sshd import MARKS, NS_IP, PORT

pytestmark = MARKS  # slow, root, openssh-server

















def remote_lab_hosts(sshd, rdir):
    import sys
    f = sshd.tmp / "hosts-remote-lab.yaml"
    f.write_text(f"targets:\n  kvm:\n    kind: remote-lab\n    ssh: ssh://root@{NS_IP}:{PORT}\n    key: client_key\n"
                 f"    known_hosts: known_hosts\n    python: {sys.executable}\n    dir: {rdir}\n")
    return f


def run_dir_of(root):
    (d,) = [p for p in Path(root).iterdir() if p.is_dir()]
    return d


def shape(d):
    """What must match between a local run and the same run on a remote-lab target."""
    import json
    recs = [json.loads(l) for l in (d / "results.jsonl").read_text().splitlines()]
    return ({str(p.relative_to(d)) for p in d.rglob("*") if "__pycache__" not in p.parts},
            [(r["cell"], r["status"], r["metric"], r["unit"], r["params"], r["kernel"]["sha256"], r["kernel"]["name"],
              sorted({k.rsplit(".", 1)[0] for k in r["counters"]})) for r in recs])  # sources (nstat omits zeros)


@pytest.mark.vm
def test_remote_lab_runs_the_lab_there_and_brings_the_run_back(sshd, tmp_path):
    import json

    args = ["run", "testcases/tunnel.yaml", "--kernel", "stock", "--links", "virtio", "--axis", "tunnel=vxlan",
            "--axis", "gso=on", "--repeat", "1", "--duration", "1"]
    hosts = remote_lab_hosts(sshd, tmp_path / "remote")
    local = subprocess.run(LAB + args + ["--runs", str(tmp_path / "local")], cwd=ROOT, capture_output=True, text=True,
                           timeout=600)
    assert local.returncode == 0, local.stdout[-2000:] + local.stderr[-2000:]
    fetched = []
    for i in range(2):
        p = subprocess.run(LAB + args + ["--runs", str(tmp_path / f"fetched{i}"), "--target", "kvm", "--hosts",
                                         str(hosts)],
                           cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
        fetched.append((p.stdout, run_dir_of(tmp_path / f"fetched{i}")))
    out0, r0 = fetched[0]
    assert "dplab: kvm: sent checkout" in out0 and "kernel stock" in out0 and "[kvm] dplab: stock up in" in out0
    assert "checkout and kernels already there" in fetched[1][0]  # by content: nothing sent twice
    l = run_dir_of(tmp_path / "local")
    assert shape(r0) == shape(l)  # the same files, cells, metrics, kernel identity and counters
    ml, mr = (json.loads((d / "manifest.json").read_text()) for d in (l, r0))
    assert set(mr) == set(ml) | {"remote"} and mr["testcase"]["path"] == ml["testcase"]["path"]
    assert mr["remote"]["target"] == "kvm" and mr["remote"]["exit_status"] == 0 and mr["status"] == "ok"
    assert json.loads((fetched[1][1] / "manifest.json").read_text())["remote"]["sent"] == []


@pytest.mark.vm
def test_remote_lab_ctrl_c_stops_the_remote_run_and_keeps_its_records(sshd, tmp_path):
    import json
    import signal

    hosts = remote_lab_hosts(sshd, tmp_path / "remote")
    p = subprocess.Popen(LAB + ["run", "testcases/tunnel.yaml", "--kernel", "stock", "--links", "virtio", "--axis",
                                "tunnel=vxlan", "--repeat", "5", "--duration", "1", "--runs", str(tmp_path / "fetched"),
                                "--target", "kvm", "--hosts", str(hosts)],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = []
    for line in p.stdout:
        seen.append(line)
        if line.startswith("[kvm]   cell ") and "Gbit/s" in line:  # one record measured there
            p.send_signal(signal.SIGINT)
            break
    rest, _ = p.communicate(timeout=120)
    out = "".join(seen) + rest
    assert p.returncode == 130, out[-3000:]
    assert "interrupting the remote run" in out and "run directory fetched into" in out
    d = run_dir_of(tmp_path / "fetched")
    m = json.loads((d / "manifest.json").read_text())
    recs = [json.loads(l) for l in (d / "results.jsonl").read_text().splitlines()]
    assert m["status"] == "interrupted" and 1 <= len(recs) < 10 and recs[0]["status"] == "ok"
    time.sleep(1)
    # neither the lab there nor its QEMU (whose 9p export is in that run dir) is left running
    assert subprocess.run(["pgrep", "-f", "--", f"{tmp_path}/remote/runs"], capture_output=True).returncode == 1
