"""Host secrets the guest must never read, hidden where the guest cannot undo it: in QEMU's mount namespace.

The guest sees the host root over 9p. Masking inside the guest would not hold (any kernel under test, any
testcase can mount the `hostroot` tag again), so QEMU itself runs in a private mount namespace in which each
secret file has an empty file bound over it and each secret directory an empty tmpfs. The 9p export then
serves the masked view; the tools the workloads need are untouched.

Users add their own: $DPLAB_HIDE (paths or globs, ':'-separated) and ~/.config/dplab/hide (one per line).
"""
import ctypes
import glob
import os
from pathlib import Path

DEFAULT = ["/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/ssh/ssh_host_*_key",
           "/etc/ssl/private", "/root/.ssh", "/root/.gnupg", "/home/*/.ssh", "/home/*/.gnupg"]
CLONE_NEWNS, CLONE_NEWUSER = 0x00020000, 0x10000000
MS_BIND, MS_REC, MS_PRIVATE = 0x1000, 0x4000, 0x40000


def user_patterns():
    pats = [p for p in os.environ.get("DPLAB_HIDE", "").split(":") if p]
    f = Path.home() / ".config" / "dplab" / "hide"
    if f.is_file():
        pats += [line.strip() for line in f.read_text().splitlines() if line.strip() and not line.startswith("#")]
    return pats


def hidden_paths():
    """Existing paths to hide (globs expanded), files and directories."""
    out = []
    for pat in DEFAULT + user_patterns():
        for p in sorted(glob.glob(os.path.expanduser(pat))):
            if os.path.lexists(p) and p not in out:
                out.append(p)
    return out


def masker(paths, empty_file):
    """A preexec function for QEMU: private mount namespace, `paths` masked. Raises OSError if it cannot
    (not root and no user namespace): the caller then refuses to boot rather than expose them."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)

    def check(rc, what):
        if rc != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"{what}: {os.strerror(err)}")

    uid, gid = os.getuid(), os.getgid()

    def mask():
        if uid == 0:
            check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
        else:  # a user namespace mapping only ourselves lets us mount in our own mount namespace
            check(libc.unshare(CLONE_NEWUSER | CLONE_NEWNS), "unshare(CLONE_NEWUSER|CLONE_NEWNS)")
            for f, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
                with open(f"/proc/self/{f}", "w") as fh:
                    fh.write(text)
        check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
        for p in paths:
            if os.path.isdir(p):
                check(libc.mount(b"dplab-hidden", p.encode(), b"tmpfs", 0, b"size=4k,mode=0700"), f"tmpfs over {p}")
            else:
                check(libc.mount(str(empty_file).encode(), p.encode(), None, MS_BIND, None), f"bind over {p}")
    return mask
