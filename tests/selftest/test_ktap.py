"""kselftest runner output as verdicts, why, output and nested results (lab/selftest/ktap.py)."""
from lab.selftest.ktap import ktap_block, parse_tap

HARNESS = """TAP version 13
1..1
# selftests: net: tun
# TAP version 13
# 1..3
# # Starting 3 tests from 1 test cases.
# #  RUN           tun.delete_detach_close ...
# #            OK  tun.delete_detach_close
# ok 1 tun.delete_detach_close
# not ok 2 tun.reattach_close_delete
# ok 3 tun.detach_close # SKIP no multiqueue
# # Totals: pass:1 fail:1 xfail:0 xpass:0 skip:1 error:0
not ok 1 selftests: net: tun # exit=1
"""


def test_kselftest_tap_becomes_verdicts_with_their_output():
    tap = ("TAP version 13\n1..1\n# selftests: net: udpgro.sh\n# Missing ../bpf/xdp_dummy.bpf.o. Build bpf selftest "
           "first\nnot ok 1 selftests: net: udpgro.sh # exit=255\n")
    [r] = parse_tap(tap)
    assert (r.verdict, r.suite, r.test, r.why) == ("fail", "net", "udpgro.sh", "exit=255")
    assert r.output[-1].startswith("Missing ../bpf") and r.subtests == []
    assert parse_tap("ok 3 selftests: net: xfrm_policy.sh # SKIP\n")[0].verdict == "skip"
    assert parse_tap("ok 1 selftests: net: udpgso.sh\n")[0].verdict == "pass"
    assert parse_tap("# selftests: net: x.sh\n# Warning: file ./x.sh is missing!\n") == []  # no verdict line: none
    [t] = parse_tap("#\nnot ok 1 selftests: net: pmtu.sh # TIMEOUT 1500 seconds\n")
    assert (t.verdict, t.why) == ("fail", "TIMEOUT")


def test_a_tests_own_results_are_its_subtests_one_level_down():
    [r] = parse_tap(HARNESS)
    assert r.subtests == [{"name": "tun.delete_detach_close", "status": "pass"},
                          {"name": "tun.reattach_close_delete", "status": "fail"},
                          {"name": "tun.detach_close", "status": "skip"}]
    block = ktap_block(4, "net", "tun", "fail", r.output, r.why)
    assert block[0] == "# selftests: net: tun" and block[-1] == "not ok 4 selftests: net: tun # exit=1"
    assert "# ok 1 tun.delete_detach_close" in block  # the nested results stay nested
    assert ktap_block(2, "net", "a.sh", "skip", [])[-1] == "ok 2 selftests: net: a.sh # SKIP"
