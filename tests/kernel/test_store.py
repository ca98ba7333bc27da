"""The build cache (lab/kernel/store.py): prune under locks, damaged entries."""
import json
from pathlib import Path


def test_prune_skips_a_key_being_built_and_a_damaged_cache_entry_is_no_hit(tmp_path, monkeypatch):
    monkeypatch.setenv("DPLAB_CACHE", str(tmp_path / "cache"))
    from lab.kernel import store
    for key in ("aaaa", "bbbb"):
        d = store.builds_root() / key
        d.mkdir(parents=True)
        (d / "bzImage").write_bytes(b"k" * 100)
        from lab.hashing import file_sha256
        (d / "build.json").write_text(json.dumps({"bzImage_sha256": file_sha256(d / "bzImage")}))
    with store.key_lock("aaaa"):
        removed = store.prune(say=lambda *_: None)
    assert [Path(p).name for p in removed] == ["bbbb"] and (store.builds_root() / "aaaa").exists()
    art = store.builds_root() / "aaaa"
    assert store.damaged(art) is None
    with open(art / "bzImage", "r+b") as f:
        f.truncate(50)
    assert "sha256 differs" in store.damaged(art)
