"""Content hashes: the one place files and texts become sha256 identities (kernels, sources, caches)."""
import hashlib


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def text_sha256(text):
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()
