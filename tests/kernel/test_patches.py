"""Patch series (lab/kernel/patches.py): paths checked before anything is touched."""

import pytest

from lab.errors import ConfigError
from tests.support import unchanged, victim


def _patch(tmp_path, target):
    p = tmp_path / "evil.patch"
    p.write_text(f"Subject: evil\n---\n--- a/{target}\n+++ b/{target}\n@@ -1 +1 @@\n-host file\n+owned\n")
    return p


@pytest.mark.parametrize("path,why", [("../victim", "leaves the tree"), ("x/../../victim", "leaves the tree")])
def test_a_patch_climbing_out_of_the_tree_is_refused_before_anything_is_touched(tmp_path, path, why):
    from lab.kernel.patches import apply_patch
    v, ino = victim(tmp_path)
    tree = tmp_path / "tree"
    tree.mkdir()
    with pytest.raises(ConfigError, match=rf"evil.patch:3: path .* {why}"):
        apply_patch(tree, _patch(tmp_path, path))
    assert unchanged(v, ino)


def test_a_patch_with_an_absolute_path_or_through_a_link_is_refused(tmp_path):
    from lab.kernel.patches import apply_patch, check_paths
    v, ino = victim(tmp_path)
    tree = tmp_path / "tree"
    (tree / "drivers").mkdir(parents=True)
    (tree / "drivers" / "net").symlink_to(tmp_path)  # a link in the tree: patch would write where it points
    p = tmp_path / "abs.patch"
    p.write_text(f"--- {v}\n+++ {v}\n@@ -1 +1 @@\n-host file\n+owned\n")
    with pytest.raises(ConfigError, match=r"abs.patch:1: path .* is absolute"):
        apply_patch(tree, p)
    with pytest.raises(ConfigError, match=r"goes through the link drivers/net"):
        check_paths(tree, _patch(tmp_path, "drivers/net/victim"))
    assert unchanged(v, ino)
    ok = tmp_path / "ok.patch"  # a hunk's own '--- x' line (a removed '-- x') is content, not a path
    ok.write_text("--- a/f.c\n+++ b/f.c\n@@ -1,2 +1,2 @@\n--- a comment\n+++ b comment\n x\n")
    check_paths(tree, ok)
