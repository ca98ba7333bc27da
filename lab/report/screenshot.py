"""Render an HTML report to PNG with headless Chromium (Debian's `chromium`), to check how it looks."""
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import MissingTool


def screenshot(html_path, png_path, width=1200, height=2400, timeout=120):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        raise MissingTool("'chromium' not found on the host: apt-get install --no-install-recommends chromium")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={profile}", "--hide-scrollbars", f"--window-size={width},{height}",
                        f"--screenshot={Path(png_path).resolve()}", Path(html_path).resolve().as_uri()],
                       check=True, capture_output=True, timeout=timeout)
    return png_path
