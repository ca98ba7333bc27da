"""The guest side: the agent that runs inside, and the host's handle on it."""
from .guest import Guest

__all__ = ["Guest"]
