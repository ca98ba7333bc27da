"""Kernels: the Debian default, user-given images, and kernels built by `lab build`."""
from .image import Kernel
from .resolve import resolve_kernel

__all__ = ["Kernel", "resolve_kernel"]
