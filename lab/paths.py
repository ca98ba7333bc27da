"""Where the lab keeps downloaded kernels, builds and probes: ~/.cache/dplab (or $DPLAB_CACHE)."""
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the checkout: kconfigs/, patches/, testcases/, tools/
TOOLS_BIN = ROOT / "tools" / "bin"  # the project's guest tools and the profiler plugin (make tools)


def cache_root():
    root = Path(os.environ.get("DPLAB_CACHE") or Path(os.environ.get("XDG_CACHE_HOME")
                                                      or Path.home() / ".cache") / "dplab")
    root.mkdir(parents=True, exist_ok=True)
    return root
