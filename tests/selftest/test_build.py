"""The kselftests of a source (lab/selftest/build.py): specs, the tests a target runs, what its config asks."""
import pytest

from lab.errors import ConfigError


def test_specs_and_the_tests_a_target_runs(tmp_path):
    from lab.selftest import parse_spec, suite_tests
    from lab.selftest.build import suite_timeout
    assert parse_spec("net:a.sh,b") == ("net", ["a.sh", "b"]) and parse_spec("net/forwarding") == ("net/forwarding", [])
    for bad in ("net; rm -rf /:x", "net:a.sh;reboot", "net:../../x", "net:$(id)"):
        with pytest.raises(ConfigError, match="TARGET"):
            parse_spec(bad)
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "Makefile").write_text("TEST_PROGS := a.sh b.sh \\\n\tc.sh\nTEST_PROGS += d.sh\nTEST_GEN_FILES "
                                               ":= x\nTEST_GEN_PROGS = tun tap\nTEST_GEN_PROGS += $(BINS) a.sh\n")
    assert suite_tests(tmp_path, "net") == ["a.sh", "b.sh", "c.sh", "d.sh", "tun", "tap"]  # what run_tests runs
    # 6.12's drivers/net ends its list with a comment after a continued line: make reads it as a comment
    (tmp_path / "drv").mkdir()
    (tmp_path / "drv" / "Makefile").write_text("TEST_PROGS := \\\n\tping.py \\\n\tstats.py \\\n# end of TEST_PROGS\n")
    assert suite_tests(tmp_path, "drv") == ["ping.py", "stats.py"]
    assert suite_timeout(tmp_path, "net") == 45  # kselftest's default without a settings file
    (tmp_path / "net" / "settings").write_text("timeout=1500\n")
    assert suite_timeout(tmp_path, "net") == 1500


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


def test_a_targets_fragment_with_its_dependencies_for_lab_build(tmp_path, monkeypatch):
    """lab build --selftests: the target's config (and net/config for drivers/net) from the source, =m as =y,
    each option's dependencies followed (the first of `A || B`, not another architecture's), best effort."""
    import shutil

    from lab.kernel.config import BEST_EFFORT
    from lab.kernel.source import resolve_source
    from lab.selftest.build import build_fragment, first_alternative
    from tests.support import SUPPORT
    monkeypatch.setenv("DPLAB_CACHE", str(tmp_path / "cache"))
    src = tmp_path / "linux"
    shutil.copytree(SUPPORT / "fakelinux", src, symlinks=True)
    (src / "Kconfig").write_text((src / "Kconfig").read_text() + "\nconfig VETH\n\ttristate \"veth\"\n"
                                 "\tdepends on NET_CORE || (UML && !NET)\n\nconfig NET_CORE\n\tbool \"core\"\n"
                                 "\tdepends on NET\n")
    (src / "arch/sparc").mkdir(parents=True)
    (src / "arch/sparc/Kconfig").write_text("config VETH\n\tdepends on SPARC64\n")
    for d, text in (("net", "CONFIG_VETH=m\nCONFIG_NET=y\n# CONFIG_X is not set\n"), ("drivers/net", "CONFIG_NET=y\n")):
        (src / "tools/testing/selftests" / d).mkdir(parents=True)
        (src / "tools/testing/selftests" / d / "config").write_text(text)
    source = resolve_source(str(src))
    frag = build_fragment(source, ["drivers/net"], say=print)
    lines = frag.read_text().splitlines()
    assert lines[0] == BEST_EFFORT and lines[2:] == ["CONFIG_NET=y", "CONFIG_VETH=y", "CONFIG_NET_CORE=y"]
    assert build_fragment(source, ["drivers/net"]) == frag  # made once
    with pytest.raises(ConfigError, match="--selftests bpf: .* has no tools/testing/selftests/bpf/config"):
        build_fragment(source, ["bpf"])
    assert first_alternative("X86_64 || (X86_32 && HIGHMEM64G)") == "X86_64 "
    assert first_alternative("(A || B) && C") == "(A || B) && C"


def test_the_bpf_objects_net_scripts_load_are_built_with_clang_or_named_as_missing(tmp_path):
    """udpgro.sh & co. load ../bpf/xdp_dummy.bpf.o: built with clang from bpf/progs/xdp_dummy.c (libbpf-dev's
    headers), else the test is a skip naming the object (lab/selftest/run.py), never a fail."""
    import shutil

    from lab.selftest.build import bpf_needs, bpf_objects
    st = tmp_path / "tools/testing/selftests"
    (st / "net").mkdir(parents=True)
    (st / "bpf/progs").mkdir(parents=True)
    (st / "net/udpgro.sh").write_text('BPF_FILE="../bpf/xdp_dummy.bpf.o"\nBPF2=../bpf/gone.bpf.o\n')
    (st / "net/plain.sh").write_text("echo no bpf here\n")
    (st / "bpf/progs/xdp_dummy.c").write_text('#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\nSEC("xdp")\n'
                                              'int xdp_dummy_prog(struct xdp_md *ctx) { return XDP_PASS; }\n'
                                              'char _license[] SEC("license") = "GPL";\n')
    (tmp_path / "usr/include").mkdir(parents=True)  # `make headers` output: linux-libc-dev's stands in
    for d, target in (("linux", "/usr/include/linux"), ("asm", "/usr/include/x86_64-linux-gnu/asm"),
                      ("asm-generic", "/usr/include/asm-generic")):
        (tmp_path / "usr/include" / d).symlink_to(target)
    assert bpf_needs(st, "net", ["udpgro.sh", "plain.sh"]) == {"udpgro.sh": ["gone.bpf.o", "xdp_dummy.bpf.o"]}
    bpf_objects(tmp_path, st, "net", tmp_path / "build.log")
    assert shutil.which("clang"), "make setup installs clang"
    obj = st / "bpf/xdp_dummy.bpf.o"
    assert obj.exists(), (tmp_path / "build.log").read_text()
    head = obj.read_bytes()[:20]
    assert head[:4] == b"\x7fELF" and int.from_bytes(head[18:20], "little") == 247  # e_machine EM_BPF
    assert bpf_needs(st, "net", ["udpgro.sh", "plain.sh"]) == {"udpgro.sh": ["gone.bpf.o"]}
    assert "bpf: gone.bpf.o: no source" in (tmp_path / "build.log").read_text()
