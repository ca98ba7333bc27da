"""SFTP transfers (lab/remote/ssh.py): names from a target stay inside the run dir."""
import stat

import pytest

from lab.results import untrusted


class FakeSftp:
    def __init__(self, entries):
        self.entries = entries

    def listdir_attr(self, path):
        return self.entries

    def open(self, path, mode):
        import io
        return io.BytesIO(b"data")


def _attr(name, mode=stat.S_IFREG | 0o644, size=4):
    a = type("A", (), {})()
    a.filename, a.st_mode, a.st_size = name, mode, size
    return a


@pytest.mark.parametrize("name", ["..", "a/../../x", "/etc/passwd"])
def test_names_coming_back_from_a_target_stay_inside_the_run_dir(tmp_path, name):
    from lab.remote.ssh import get_tree
    with pytest.raises(untrusted.UnsafePath, match="refusing it"):
        get_tree(FakeSftp([_attr(name)]), "/r", tmp_path / "cell")
    get_tree(FakeSftp([_attr("ok"), _attr("lnk", stat.S_IFLNK | 0o777)]), "/r", tmp_path / "cell2")
    assert sorted(p.name for p in (tmp_path / "cell2").iterdir()) == ["ok"]  # a link from the target: skipped
