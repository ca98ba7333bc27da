"""Build trees: a hardlink farm of the pristine source, made private where patches write, and a seed's out/
pointed at a new tree."""
import subprocess
from pathlib import Path


def rebase_paths(out, old_tree, new_tree):
    """tools/objtool's build records absolute paths in its .cmd files: point them at the new tree, or objtool
    is rebuilt and, since every object depends on it, so is everything."""
    files = subprocess.run(["grep", "-rlI", "--include=*.cmd", "--include=*.d", str(old_tree), str(out)],
                           capture_output=True, text=True).stdout.split()
    for f in files:
        p = Path(f)
        p.write_text(p.read_text().replace(str(old_tree), str(new_tree)))


def hardlink_farm(src, dst):
    """cp -al: a full tree in ~1-2 s, sharing file data with the pristine source."""
    subprocess.run(["cp", "-al", str(src), str(dst)], check=True)


def unshare(tree, rel_paths):
    """Replace hardlinks by real copies before patching, so the pristine source never changes."""
    for rel in rel_paths:
        p = tree / rel
        if p.exists():
            data = p.read_bytes()
            mode = p.stat().st_mode
            p.unlink()
            p.write_bytes(data)
            p.chmod(mode)
