"""The guest side: the agent that runs inside, and the host's handle on it."""
from pathlib import Path

from .guest import Guest

GUEST_SOURCES = Path(__file__).resolve().parent
AGENT_FILES = ("agent.py", "snap.py")  # what the agent runs from, in a guest's /lab or on a hardware target

__all__ = ["AGENT_FILES", "GUEST_SOURCES", "Guest"]
