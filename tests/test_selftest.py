"""Kernel selftests' TAP (lab/selftest.py)."""
import pytest

from lab.errors import ConfigError


def test_kselftest_tap_becomes_verdicts_with_their_output(tmp_path):
    from lab.selftest import parse_spec, parse_tap, suite_tests
    tap = ("TAP version 13\n1..1\n# selftests: net: udpgro.sh\n# Missing ../bpf/xdp_dummy.bpf.o. Build bpf selftest "
           "first\n"
           "not ok 1 selftests: net: udpgro.sh # exit=255\n")
    [(verdict, target, test, out)] = parse_tap(tap)
    assert (verdict, target, test) == ("fail", "net", "udpgro.sh") and out[-1].startswith("Missing ../bpf")
    assert parse_tap("ok 3 selftests: net: xfrm_policy.sh # SKIP\n")[0][0] == "skip"
    assert parse_tap("ok 1 selftests: net: udpgso.sh\n")[0][0] == "pass"
    assert parse_tap("# selftests: net: x.sh\n# Warning: file ./x.sh is missing!\n") == []  # no verdict line: none
    assert parse_spec("net:a.sh,b") == ("net", ["a.sh", "b"]) and parse_spec("net/forwarding") == ("net/forwarding", [])
    with pytest.raises(ConfigError, match="TARGET"):
        parse_spec("net; rm -rf /:x")
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "Makefile").write_text("TEST_PROGS := a.sh b.sh \\\n\tc.sh\nTEST_PROGS += d.sh\nTEST_GEN_FILES "
                                               ":= x\n")
    assert suite_tests(tmp_path, "net") == ["a.sh", "b.sh", "c.sh", "d.sh"]
