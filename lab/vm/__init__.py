"""Booting kernels in QEMU: links, argv, accelerator probe, console watchdog, the boot environment."""
from .env import BootSpec, GuestEnv, boot, vm_config
from .links import NIC_MODELS, Link, make_links, nic_model
from .qemu import VM, VMConfig

__all__ = ["BootSpec", "GuestEnv", "boot", "vm_config", "NIC_MODELS", "Link", "make_links", "nic_model", "VM",
           "VMConfig"]
