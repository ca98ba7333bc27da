"""`lab build` (lab/kernel/build.py) on a kernel tree in miniature (tests/support/fakelinux), and once for real."""
import shutil
import time
from pathlib import Path

import pytest

from lab.errors import ConfigError, LabError
from lab.kernel import store
from lab.kernel.build import BuildRequest, build
from lab.kernel.config import kconfig_depends, parse_config, requested
from lab.kernel.image import from_path
from lab.kernel.patches import load_series, touched_files
from tests.support import ROOT, SUPPORT

FAKE = SUPPORT / "fakelinux"


PATCH = """--- a/drivers/fake.c
+++ b/drivers/fake.c
@@ -1,2 +1,2 @@
-int fake_flags = 1;
+int fake_flags = 0;
 int fake_more = 2;
"""


BAD_PATCH = """--- a/drivers/fake.c
+++ b/drivers/fake.c
@@ -1,2 +1,2 @@
 int fake_flags = 0;
-int fake_more = 42;
+int fake_more = 43;
"""


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("DPLAB_CACHE", str(tmp_path / "cache"))
    src = tmp_path / "linux"
    shutil.copytree(FAKE, src, symlinks=True)
    frag = tmp_path / "lab.config"
    frag.write_text("CONFIG_NET=y\n")
    return tmp_path, src, frag


def series(tmp_path, name, *patches):
    d = tmp_path / name
    d.mkdir()
    for i, text in enumerate(patches):
        (d / f"{i:04d}.patch").write_text(text)
    (d / "series").write_text("# comment\n" + "".join(f"{i:04d}.patch\n" for i in range(len(patches))))
    return d


def test_build_merges_verifies_and_caches(env):
    tmp, src, frag = env
    art = build(BuildRequest(source=str(src), fragments=[frag], ccache=False), say=print)
    info = (art / "build.json").read_text()
    assert '"release": "6.1.0-fake"' in info and "config_sha256" in info
    assert parse_config((art / "config").read_text())["CONFIG_NET"] == "y"
    again = build(BuildRequest(source=str(src), fragments=[frag], ccache=False), say=print)
    assert again == art
    assert from_path(art).build["key"] == art.name
    assert [b["names"] for b in store.list_builds()] == [["stock"]]
    assert store.find_build("stock") == art


def test_another_config_of_a_built_source_starts_from_its_objects(env):
    """A fragment variant (ipsec-no-offload, a selftest config) copies the out/ of the same source's build and
    lets Kbuild rebuild what the config change reaches, instead of compiling everything again."""
    tmp, src, frag = env
    build(BuildRequest(source=str(src), fragments=[frag], ccache=False), say=print)
    other = tmp / "other.config"
    other.write_text("CONFIG_64BIT=y\n")
    said = []
    art = build(BuildRequest(source=str(src), fragments=[frag, other], ccache=False, name="other"), say=said.append)
    assert any("incremental from" in m and "another config: stock" in m for m in said), said
    assert parse_config((art / "config").read_text())["CONFIG_NET"] == "y"


def test_two_processes_building_one_key_build_it_once(env, monkeypatch):
    """The second waits for the first (a lock per key) and takes its artifact: it never removes a tree that is
    being built (two `lab run --kernel stock` at once did, and the first build failed)."""
    import threading

    import lab.kernel.build as kb
    make = kb._make
    monkeypatch.setattr(kb, "_make", lambda *a, **k: (time.sleep(0.5), make(*a, **k))[1])  # a build that takes a while
    tmp, src, frag = env
    said, arts = [], []
    req = BuildRequest(source=str(src), fragments=[frag], ccache=False)
    first = threading.Thread(target=lambda: arts.append(build(req, say=lambda m: said.append(("first", m)))))
    first.start()
    lock = Path(env[0]) / "cache" / "locks"
    while not (lock.exists() and any(lock.iterdir())) and first.is_alive():  # the first holds the key's lock
        time.sleep(0.01)
    time.sleep(0.1)
    arts.append(build(BuildRequest(source=str(src), fragments=[frag], ccache=False),
                      say=lambda m: said.append(("second", m))))
    first.join()
    assert arts[0] == arts[1] and (arts[0] / "build.json").exists()
    second = [m for who, m in said if who == "second"]
    assert any("another process is building" in m for m in second) and any("cache hit" in m for m in second), said
    assert not any(" in " in m and "-> " in m for m in second), second  # the second did not build


def test_dropped_option_is_named_with_its_dependency(env):
    tmp, src, frag = env
    frag.write_text("CONFIG_NET=y\nCONFIG_DROPPED=y\n")
    with pytest.raises(ConfigError) as e:
        build(BuildRequest(source=str(src), fragments=[frag], ccache=False), say=print)
    msg = str(e.value)
    assert "lab.config:2: CONFIG_DROPPED=y requested" in msg and "depends on NOPE && NET" in msg
    assert not any((tmp / "cache" / "trees").iterdir())  # nothing half-built left behind


def test_patch_applies_without_touching_the_pristine_source(env):
    tmp, src, frag = env
    s = series(tmp, "flag-off", PATCH)
    art = build(BuildRequest(source=str(src), patches=str(s), fragments=[frag], ccache=False), say=print)
    assert b"fake_flags = 0" in (art / "bzImage").read_bytes()
    assert "fake_flags = 1" in (src / "drivers/fake.c").read_text()
    pristine = next((tmp / "cache" / "src").iterdir()) if (tmp / "cache" / "src").exists() else src
    assert "fake_flags = 1" in (pristine / "drivers/fake.c").read_text()
    stock = build(BuildRequest(source=str(src), fragments=[frag], ccache=False), say=print)
    assert stock != art and b"fake_flags = 1" in (stock / "bzImage").read_bytes()  # both coexist
    assert store.find_build("flag-off") == art


def test_patch_that_does_not_apply_names_patch_and_hunk(env):
    tmp, src, frag = env
    s = series(tmp, "broken", PATCH, BAD_PATCH)  # the first applies, the second's context does not match
    with pytest.raises(ConfigError, match=r"patch 0001.patch does not apply: drivers/fake.c: hunk #1 \(at line 1\)"):
        build(BuildRequest(source=str(src), patches=str(s), fragments=[frag], ccache=False), say=print)
    s2 = series(tmp, "twice", PATCH, PATCH)
    with pytest.raises(ConfigError, match=r"patch 0001.patch does not apply: drivers/fake.c: already applied "
                                          r"\(reversed\)"):
        build(BuildRequest(source=str(src), patches=str(s2), fragments=[frag], ccache=False), say=print)
    assert not any((tmp / "cache" / "trees").iterdir())
    assert store.list_builds() == []


def test_compile_error_shows_the_error_and_keeps_the_log(env):
    tmp, src, frag = env
    s = series(tmp, "err", PATCH.replace("+int fake_flags = 0;", "+#error boom"))
    with pytest.raises(LabError) as e:
        build(BuildRequest(source=str(src), patches=str(s), fragments=[frag], ccache=False), say=print)
    msg = str(e.value)
    assert "error: #error boom" in msg and "full log:" in msg
    log = Path(msg.split("full log: ")[1].split("\n")[0])
    assert log.exists() and "Error 1" in log.read_text()


def test_cache_key_follows_inputs(env):
    from lab.kernel.build import build_key
    tmp, src, frag = env
    p1 = tmp / "p1"
    p1.write_text(PATCH)
    k = build_key("tarball:x", [frag], [p1], "gcc 12", "tinyconfig")
    assert k == build_key("tarball:x", [frag], [p1], "gcc 12", "tinyconfig")
    assert k != build_key("tarball:y", [frag], [p1], "gcc 12", "tinyconfig")
    assert k != build_key("tarball:x", [frag], [], "gcc 12", "tinyconfig")
    assert k != build_key("tarball:x", [frag], [p1], "gcc 13", "tinyconfig")
    frag.write_text("CONFIG_NET=n\n")
    assert k != build_key("tarball:x", [frag], [p1], "gcc 12", "tinyconfig")


def test_series_errors_and_touched_files(tmp_path):
    with pytest.raises(ConfigError, match="no 'series' file"):
        load_series(tmp_path)
    (tmp_path / "series").write_text("missing.patch\n")
    with pytest.raises(ConfigError, match=r"series:1: patch 'missing.patch' listed but not found"):
        load_series(tmp_path)
    assert touched_files(PATCH) == ["drivers/fake.c"]


def test_requested_and_depends_parsing(tmp_path):
    f = tmp_path / "a.config"
    f.write_text("CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=\"x\"\n")
    assert requested([f]) == {"CONFIG_A": ("y", str(f), 1), "CONFIG_B": ("n", str(f), 2),
                              "CONFIG_C": ('"x"', str(f), 3)}
    assert kconfig_depends(FAKE, "CONFIG_DROPPED")[0].startswith("depends on NOPE && NET (./Kconfig:")


def test_shipped_fragments_and_series_are_well_formed():
    root = ROOT
    for frag in (root / "kconfigs").glob("*.config"):
        assert requested([frag]), frag
    for s in (root / "patches").iterdir():
        for p in load_series(s):
            assert touched_files(p.read_text()), p


def test_enclosing_if_is_reported(tmp_path):
    from lab.kernel.config import enclosing_ifs
    k = tmp_path / "Kconfig"
    k.write_text("config A\n\thelp\n\t  if you want this\n\nif MENU_X\n\nconfig B\n\tbool \"b\"\n\nendif\n")
    assert enclosing_ifs(k, 7) == ["inside 'if MENU_X' (Kconfig:5)"]
    assert enclosing_ifs(k, 1) == []


@pytest.mark.build
@pytest.mark.vm
@pytest.mark.slow
def test_real_lab_kernel_builds_and_boots(tmp_path):
    """Debian's linux-source + kconfigs/lab.config (a cache hit once built: ~14 min cold on 2 cores),
    booted by the VM runner with both NIC models bound to their built-in drivers."""
    import subprocess
    import sys
    root = ROOT
    art = build(BuildRequest(), say=print)
    info = __import__("json").loads((art / "build.json").read_text())
    assert info["release"].startswith("6.1") and (art / "bzImage").stat().st_size > 1_000_000
    assert parse_config((art / "config").read_text())["CONFIG_XDP_SOCKETS"] == "y"
    p = subprocess.run([sys.executable, "-m", "lab.cli", "boot", "--kernel", "stock", "--runs", str(tmp_path),
                        "--links", "virtio,e1000e", "--", "sh", "-c",
                        "uname -r; ip netns exec virtio0a ethtool -i eth0; ip netns exec e1000e1a ethtool -i eth0; "
                        "ls /lib/modules/$(uname -r) 2>/dev/null | wc -l"],
                       cwd=root, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == info["release"]
    assert "driver: virtio_net" in p.stdout and "driver: e1000e" in p.stdout


def test_a_best_effort_fragment_names_what_it_could_not_set_and_builds(env):
    """A kselftest target's config (lab build --selftests) is best effort: an option whose dependency cannot be
    met is named, said and kept in build.json; the kernel is built with the rest."""
    from lab.kernel.config import BEST_EFFORT
    tmp, src, frag = env
    soft = tmp / "selftests.config"
    soft.write_text(f"{BEST_EFFORT}\nCONFIG_64BIT=y\nCONFIG_DROPPED=y\n")
    said = []
    art = build(BuildRequest(source=str(src), fragments=[frag, soft], ccache=False, name="st"), say=said.append)
    info = from_path(art).build
    assert len(info["kconfig_unset"]) == 1 and "selftests.config:3: CONFIG_DROPPED=y requested" in \
        info["kconfig_unset"][0] and "depends on NOPE && NET" in info["kconfig_unset"][0]
    assert any("could not set" in m and "CONFIG_DROPPED" in m for m in said), said
    assert parse_config((art / "config").read_text())["CONFIG_64BIT"] == "y"
