"""Files a guest or target wrote (lab/results/untrusted.py): never read or written through a link."""

import pytest

from lab.errors import LabError
from lab.results import untrusted
from tests.support import unchanged, victim


def test_a_planted_link_is_neither_read_nor_written_through(tmp_path):
    v, ino = victim(tmp_path)
    tree = tmp_path / "guest"
    (tree / "cells" / "1").mkdir(parents=True)
    (tree / "cells" / "1" / "perf.csv").symlink_to(v)
    with pytest.raises(untrusted.UnsafePath, match="not a plain file"):
        untrusted.read_text(tree, "cells/1/perf.csv")
    (tree / "cells" / "2").symlink_to(tmp_path)  # a directory link on the way
    with pytest.raises(untrusted.UnsafePath, match="'2' is not a directory of the tree"):
        untrusted.read_text(tree, "cells/2/victim")
    untrusted.write_text(tree, "cells/1/perf.csv", "new\n")  # replaces the link itself
    assert unchanged(v, ino) and (tree / "cells/1/perf.csv").read_text() == "new\n"
    assert not (tree / "cells/1/perf.csv").is_symlink()
    for bad in ("../victim", "/etc/passwd", "cells/../../victim", ""):
        with pytest.raises(untrusted.UnsafePath):
            untrusted.write_text(tree, bad, "x")
    (tree / "big").write_bytes(b"x" * 2048)
    with pytest.raises(LabError, match="larger than 1024 bytes"):
        untrusted.read_bytes(tree, "big", limit=1024)
