"""The Makefile: every target listed by make help."""
import re
import subprocess

from tests.support import ROOT


def test_make_help_lists_every_target():
    out = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    listed = set(re.findall(r"^\s+(\S+)\s", out, re.M))
    need = {"setup", "demo", "test", "test-quick", "kernel", "xsk", "ipsec", "tunnel", "bulk", "xdp-rx", "bench",
            "report", "nightly", "clean"}
    assert need <= listed, need - listed
