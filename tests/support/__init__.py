"""What tests share that is not a fixture: the checkout, the `lab` command, this folder's data."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the checkout
SUPPORT = Path(__file__).resolve().parent  # fakelinux/ (a kernel tree in miniature), data/ (consoles, patches)
LAB = [sys.executable, "-m", "lab.cli"]
