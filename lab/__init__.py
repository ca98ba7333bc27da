"""dplab: a QEMU-backed kernel test lab for the Linux network datapath."""

__version__ = "0.1.0"
