"""What tests share that is not a fixture: the checkout, the `lab` command, this folder's data."""
import os
import stat
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the checkout
SUPPORT = Path(__file__).resolve().parent  # fakelinux/ (a kernel tree in miniature), data/ (consoles, patches)
LAB = [sys.executable, "-m", "lab.cli"]


def victim(tmp_path, name="victim", text="host file\n"):
    """A host file a hostile input aims at: (path, inode)."""
    p = tmp_path / name
    p.write_text(text)
    p.chmod(0o640)
    return p, p.stat().st_ino


def unchanged(p, ino, text="host file\n"):
    """The host file is the same file, with the same content and mode."""
    st = os.lstat(p)
    return stat.S_ISREG(st.st_mode) and st.st_ino == ino and p.read_text() == text and stat.S_IMODE(st.st_mode) == 0o640


def write_hosts(tmp_path, kexec, kind="hardware"):
    """A hosts file with one target b1 (dummy key files), its kexec: lines as given."""
    for f in ("key", "known_hosts"):
        (tmp_path / f).write_text("")
    p = tmp_path / "hosts.yaml"
    p.write_text(f"targets:\n  b1:\n    kind: {kind}\n    ssh: ssh://root@192.0.2.1\n    key: key\n    known_hosts: "
                 "known_hosts\n"
                 + ("    ports: {a: p0, b: p1}\n" if kind == "hardware" else "") + kexec)
    return p


def git(repo, *args):
    """A git command's stdout (it must succeed)."""
    import subprocess
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


def fake_git_tree(tmp_path, name="net-next"):
    """A git tree of the kernel tree in miniature (fakelinux) with one commit, 'base'."""
    import shutil
    repo = tmp_path / name
    shutil.copytree(SUPPORT / "fakelinux", repo, symlinks=True)
    git(tmp_path, "init", "-q", str(repo))
    for k, v in (("user.email", "dev@example.com"), ("user.name", "dev")):
        git(repo, "config", k, v)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    return repo
