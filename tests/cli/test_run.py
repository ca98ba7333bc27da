"""`lab run` and friends: every bad option and damaged file is `lab: error:` naming it."""
import subprocess

import pytest

from lab.errors import ConfigError
from lab.results.rundir import RunDir
from tests.support import LAB, ROOT


@pytest.mark.parametrize("argv,msg", [
    (["run", "testcases/throughput.yaml", "--repeat", "0"], "--repeat: 0 is out of range 1..1000"),
    (["run", "testcases/throughput.yaml", "--repeat", "-1"], "--repeat: -1 is out of range"),
    (["run", "testcases/throughput.yaml", "--repeat", "100000000"], "--repeat: 100000000 is out of range"),
    (["run", "testcases/throughput.yaml", "--repeat", "1e8"], "--repeat: '1e8' is not an integer"),
    (["run", "testcases/throughput.yaml", "--duration", "0"], "--duration: 0 is out of range"),
    (["run", "testcases/throughput.yaml", "--duration", "nan"], "--duration: nan is not a finite number"),
    (["run", "testcases/throughput.yaml", "--rounds", "0"], "--rounds: 0 is out of range"),
    (["run", "testcases/throughput.yaml", "--boot-timeout", "-1"], "--boot-timeout: -1 is out of range"),
    (["run", "testcases/throughput.yaml", "--memory", "2G,x=y"], "--memory: '2G,x=y' is not of the form N"),
    (["compare", "--confidence", "2", "runs/x"], "--confidence: 2 is out of range"),
    (["compare", "--confidence", "0", "runs/x"], "--confidence: 0 is out of range"),
    (["build", "--name", "../x"], "--name '../x': a build name is"),
])
def test_bad_options_are_named(argv, msg):
    p = subprocess.run(LAB + argv, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 2 and msg in p.stderr and "Traceback" not in p.stderr, p.stderr[-500:]


def test_damaged_inputs_are_errors_naming_the_file(tmp_path):
    (tmp_path / "bin.yaml").write_bytes(b"name: t\n\xff\xfe\n")
    rd = RunDir.create(tmp_path, "t")
    (rd.path / "manifest.json").write_text('{"options": ')
    rd2 = RunDir.create(tmp_path, "u")
    (rd2.path / "results.jsonl").write_text('{"cell": 1}\n[1, 2]\n{"cell": 3}\n')
    frag = tmp_path / "f.config"
    for args, msg in ((["run", str(tmp_path / "bin.yaml")], "bin.yaml: not UTF-8 text"),
                      (["run", "--resume", str(rd.path)], "manifest.json: damaged"),
                      (["report", str(rd2.path)], "results.jsonl:2: a JSON list without a cell")):
        p = subprocess.run(LAB + args, capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert p.returncode in (1, 2) and msg in p.stderr and "Traceback" not in p.stderr, p.stderr[-800:]
    from lab.kernel.config import requested
    for line, msg in (("XDP_SOCKETS=y", "not CONFIG_NAME=value"), ("CONFIG_X = y", "not CONFIG_NAME=value"),
                      ("CONFIG_X=y # why", "a trailing comment")):
        frag.write_text(f"# ok\nCONFIG_NET=y\n{line}\n")
        with pytest.raises(ConfigError, match=rf"f.config:3: .*{msg}"):
            requested([frag])
