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


def test_the_options_a_suite_asks_for_and_those_a_kernel_lacks(tmp_path):
    from lab.kernel.image import Kernel
    from lab.selftest import lacking, suite_needs
    (tmp_path / "net").mkdir()
    (tmp_path / "drivers" / "net").mkdir(parents=True)
    (tmp_path / "net" / "config").write_text("CONFIG_VETH=y\nCONFIG_NET_VRF=m\n# CONFIG_X is not set\nCONFIG_Y=n\n")
    (tmp_path / "drivers" / "net" / "config").write_text("CONFIG_NETDEVSIM=m\n")
    assert suite_needs(tmp_path, "net") == {"CONFIG_VETH": "y", "CONFIG_NET_VRF": "m"}
    assert set(suite_needs(tmp_path, "drivers/net")) == {"CONFIG_NETDEVSIM", "CONFIG_VETH", "CONFIG_NET_VRF"}
    img = tmp_path / "bzImage"
    img.write_bytes(b"")
    config = tmp_path / "config"
    config.write_text("CONFIG_VETH=y\nCONFIG_NET_VRF=m\n")
    built_in = Kernel(name="lab", image=img, release="6.1", config=config)  # no modules: =m is missing
    assert lacking(built_in, suite_needs(tmp_path, "net")) == ["CONFIG_NET_VRF"]
    modular = Kernel(name="deb", image=img, release="6.1", config=config, modules_dir=tmp_path)
    assert lacking(modular, suite_needs(tmp_path, "net")) == []
    assert lacking(Kernel(name="bare", image=img, release="6.1"), {"CONFIG_VETH": "y"}) is None
