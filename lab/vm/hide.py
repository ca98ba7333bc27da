"""What a guest sees of the host: an allow-list, built where the guest cannot undo it (QEMU's mount namespace).

The lab's guests get their userspace from the host over 9p. Masking inside the guest would not hold (any kernel
under test, any testcase can mount the `hostroot` tag again), so QEMU itself runs in a private mount namespace
in which a tmpfs holds read-only binds of the allowed top-level trees only (the programs, libraries and /etc the
workloads need; never /root, /home, /tmp, /var, /opt, /srv, /proc or the lab's own checkout), with the secrets
inside them covered by empty files and directories. The 9p export serves that view, nothing else.

Users add their own secrets: $DPLAB_HIDE (paths or globs, ':'-separated) and ~/.config/dplab/hide (one per line).
`lab debug` hands vng the host root (its guest's root): there only the secrets are covered (`masker`).
"""
import ctypes
import glob
import os
from pathlib import Path

SHARED = ("usr", "etc", "bin", "sbin", "lib", "lib32", "lib64", "libx32")  # top-level trees a guest gets
SECRETS = ["/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/ssh/ssh_host_*_key",
           "/etc/ssl/private", "/etc/wireguard", "/etc/ipsec.secrets", "/etc/ipsec.d/private", "/etc/swanctl/private",
           "/etc/swanctl/rsa", "/etc/swanctl/ecdsa", "/etc/krb5.keytab", "/etc/NetworkManager/system-connections",
           "/etc/apt/auth.conf", "/etc/apt/auth.conf.d", "/etc/security/opasswd", "/etc/ppp/chap-secrets",
           "/etc/ppp/pap-secrets",
           "/root/.ssh", "/root/.gnupg", "/home/*/.ssh", "/home/*/.gnupg"]  # the last: for `lab debug` (vng's root)
CLONE_NEWNS, CLONE_NEWUSER = 0x00020000, 0x10000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 32, 0x1000, 0x4000, 0x40000


def user_patterns():
    pats = [p for p in os.environ.get("DPLAB_HIDE", "").split(":") if p]
    f = Path.home() / ".config" / "dplab" / "hide"
    if f.is_file():
        pats += [line.strip() for line in f.read_text().splitlines() if line.strip() and not line.startswith("#")]
    return pats


def hidden_paths():
    """Existing paths to hide (globs expanded), files and directories."""
    out = []
    for pat in SECRETS + user_patterns():
        for p in sorted(glob.glob(os.path.expanduser(pat))):
            if os.path.lexists(p) and p not in out:
                out.append(p)
    return out


def shared_paths():
    """The allowed top-level entries this host has (directories and the merged-/usr links)."""
    return [f"/{n}" for n in SHARED if os.path.lexists(f"/{n}")]


def describe():
    """For the manifest: what the guest's view of the host is made of."""
    return {"shared": shared_paths(),
            "masked": [p for p in hidden_paths() if p.startswith(tuple(f"/{n}/" for n in SHARED))]}


def _libc():
    libc = ctypes.CDLL("libc.so.6", use_errno=True)

    def check(rc, what):
        if rc != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"{what}: {os.strerror(err)}")
    return libc, check


def _private_namespace(libc, check, uid, gid):
    if uid == 0:
        check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    else:  # a user namespace mapping only ourselves lets us mount in our own mount namespace
        check(libc.unshare(CLONE_NEWUSER | CLONE_NEWNS), "unshare(CLONE_NEWUSER|CLONE_NEWNS)")
        for f, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
            with open(f"/proc/self/{f}", "w") as fh:
                fh.write(text)
    check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")


def _cover(libc, check, paths, empty_file, prefix=""):
    for p in paths:
        where = (prefix + p).encode()
        if os.path.isdir(p):
            check(libc.mount(b"dplab-hidden", where, b"tmpfs", MS_NOSUID | MS_NODEV, b"size=4k,mode=0700"),
                  f"tmpfs over {p}")
        else:
            check(libc.mount(str(empty_file).encode(), where, None, MS_BIND, None), f"bind over {p}")


def masker(paths, empty_file):
    """A preexec function (vng in `lab debug`): private mount namespace, `paths` covered. Raises OSError if it
    cannot (not root and no user namespace): the caller then refuses to boot rather than expose them."""
    libc, check = _libc()
    uid, gid = os.getuid(), os.getgid()

    def mask():
        _private_namespace(libc, check, uid, gid)
        _cover(libc, check, paths, empty_file)
    return mask


def host_view(view, empty_file, secrets):
    """A preexec function for QEMU: in a private mount namespace, `view` (an empty directory) becomes a tmpfs
    holding read-only, nosuid, nodev binds of the shared trees (links as links), `secrets` covered inside it."""
    libc, check = _libc()
    uid, gid = os.getuid(), os.getgid()
    entries = [(p, os.readlink(p) if os.path.islink(p) else None) for p in shared_paths()]
    trees = tuple(f"{p}/" for p, link in entries if link is None)
    inside = [s for s in secrets if s.startswith(trees)]

    def build():
        _private_namespace(libc, check, uid, gid)
        check(libc.mount(b"dplab-view", str(view).encode(), b"tmpfs", MS_NOSUID | MS_NODEV, b"mode=0755"), "tmpfs view")
        for path, link in entries:
            dest = f"{view}{path}"
            if link is not None:
                os.symlink(link, dest)
                continue
            os.mkdir(dest)
            check(libc.mount(path.encode(), dest.encode(), None, MS_BIND, None), f"bind {path}")
            check(libc.mount(None, dest.encode(), None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, None),
                  f"read-only {path}")
        _cover(libc, check, [s for s in inside if os.path.exists(s)], empty_file, prefix=str(view))
    return build
