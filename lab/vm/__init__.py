"""Booting kernels in QEMU: argv, accelerator probe, topology, console watchdog."""
from .qemu import VM, VMConfig
from .topology import NIC_MODELS, Link, make_links

__all__ = ["VM", "VMConfig", "NIC_MODELS", "Link", "make_links"]
