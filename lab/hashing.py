"""Content hashes: the one place files and texts become sha256 identities (kernels, sources, caches)."""
import hashlib
import json
import os
from pathlib import Path


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def text_sha256(text):
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def file_sha256_cached(path, cache_file):
    """file_sha256 of a large file, remembered by (path, size, mtime): a 150 MB source tarball is hashed once,
    not on every `--kernel stock`. A changed size or mtime hashes it again."""
    st = os.stat(path)
    key = os.path.realpath(path)
    try:
        known = json.loads(Path(cache_file).read_text())
    except (OSError, ValueError):
        known = {}
    if known.get(key, [None, None])[:2] == [st.st_size, st.st_mtime_ns]:
        return known[key][2]
    digest = file_sha256(path)
    known[key] = [st.st_size, st.st_mtime_ns, digest]
    tmp = Path(f"{cache_file}.{os.getpid()}")
    tmp.write_text(json.dumps(known, indent=1))
    tmp.replace(cache_file)
    return digest
