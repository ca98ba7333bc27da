"""Files in a tree someone else can write (the run's guest/ dir, shared read-write with a guest; what comes back
from a target): read and written without following links, sizes bounded, names kept inside the tree.

Every path component is opened with O_NOFOLLOW under its parent's descriptor (openat), so a link the guest
planted (`cells/1/run.stdout -> /etc/passwd`) is an error naming it, never a host file read or rewritten.
"""
import os
import stat
from pathlib import Path, PurePosixPath

from ..errors import LabError, UnsafePath

__all__ = ["UnsafePath", "clean_name", "make_dir", "read_bytes", "read_text", "remove", "write_bytes", "write_text"]
MAX_READ = 64 << 20  # bytes: no file a guest writes is read whole past this
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def clean_name(name):
    """`name` as relative parts; UnsafePath for an absolute path, `..`, empty or NUL-bearing names."""
    p = PurePosixPath(name)
    if not name or "\0" in name or p.is_absolute() or any(part in ("..", "") for part in p.parts) or not p.parts:
        raise UnsafePath(f"{name!r}: not a plain relative name (absolute, '..' or empty)")
    return [part for part in p.parts if part != "."]


def _open_dir(root, parts, create):
    """A descriptor of root/parts..., each component a real directory (no link followed); made if `create`."""
    fd = os.open(root, _DIR)
    try:
        for part in parts:
            if create:
                try:
                    os.mkdir(part, 0o755, dir_fd=fd)
                except FileExistsError:
                    pass
            try:
                nfd = os.open(part, _DIR, dir_fd=fd)
            except OSError as e:
                raise UnsafePath(f"{Path(root, *parts)}: {part!r} is not a directory of the tree ({e.strerror}): "
                                 f"refusing to follow it") from None
            os.close(fd)
            fd = nfd
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_bytes(root, name, limit=MAX_READ):
    """The bytes of root/name, a regular file reached without any link; UnsafePath otherwise, LabError past `limit`."""
    parts = clean_name(str(name))
    dfd = _open_dir(root, parts[:-1], create=False)
    try:
        try:
            fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=dfd)
        except OSError as e:
            if e.errno == 2:
                raise FileNotFoundError(2, "no such file", str(Path(root, *parts))) from None
            raise UnsafePath(f"{Path(root, *parts)}: not a plain file ({e.strerror}): refusing to follow it") from None
    finally:
        os.close(dfd)
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnsafePath(f"{Path(root, *parts)}: not a regular file: not read")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise LabError(f"{Path(root, *parts)}: larger than {limit} bytes: not read (the guest wrote it)")
    return data


def read_text(root, name, limit=MAX_READ):
    return read_bytes(root, name, limit).decode(errors="replace")


def write_bytes(root, name, data, mode=0o644):
    """Write root/name afresh: whatever entry is there (a planted link, a file) is removed first, the new file
    created exclusively; parents are made as real directories. Returns the path."""
    parts = clean_name(str(name))
    dfd = _open_dir(root, parts[:-1], create=True)
    try:
        try:
            os.unlink(parts[-1], dir_fd=dfd)
        except IsADirectoryError:
            raise UnsafePath(f"{Path(root, *parts)}: a directory stands where a file goes") from None
        except FileNotFoundError:
            pass
        except PermissionError:  # Linux answers EPERM for unlink() of a directory
            raise UnsafePath(f"{Path(root, *parts)}: a directory stands where a file goes") from None
        fd = os.open(parts[-1], os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dfd)
    finally:
        os.close(dfd)
    with os.fdopen(fd, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
        os.fchmod(f.fileno(), mode)
    return Path(root, *parts)


def holds(root, name, data, mode):
    """root/name is a plain file (no link) holding exactly `data` with permission bits `mode`, and no metadata a
    guest set through 9p's mapped models (an xattr, a .virtfs_metadata entry) says otherwise."""
    try:
        if read_bytes(root, name, len(data)) != data:
            return False
        p = Path(root, *clean_name(str(name)))
        st = os.stat(p, follow_symlinks=False)
        meta = p.parent / ".virtfs_metadata" / p.name
        return stat.S_IMODE(st.st_mode) == mode and not any(
            "virtfs" in x for x in os.listxattr(p, follow_symlinks=False)) and not os.path.lexists(meta)
    except (OSError, LabError):
        return False


def write_text(root, name, text, mode=0o644):
    return write_bytes(root, name, text.encode(), mode)


def make_dir(root, name):
    """root/name as a real directory (each component checked); returns the path."""
    parts = clean_name(str(name))
    os.close(_open_dir(root, parts, create=True))
    return Path(root, *parts)


def remove(root, name):
    """Remove the entry root/name (a file or a link, never what a link points to); absent is fine."""
    parts = clean_name(str(name))
    dfd = _open_dir(root, parts[:-1], create=False)
    try:
        os.unlink(parts[-1], dir_fd=dfd)
    except FileNotFoundError:
        pass
    finally:
        os.close(dfd)
