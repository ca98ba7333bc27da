"""Kernel images (lab/kernel/image.py): the release from a bzImage's setup header."""
import struct

import pytest

from lab.errors import ConfigError
from lab.kernel.image import bzimage_release


def test_bzimage_release_from_setup_header(tmp_path):
    data = bytearray(0x400)
    data[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", data, 0x20E, 0x100)
    data[0x300:0x300 + 40] = b"6.1.192-lab (root@x) #1 SMP\0".ljust(40, b"\0")
    p = tmp_path / "bzImage"
    p.write_bytes(bytes(data))
    assert bzimage_release(p) == "6.1.192-lab"
    tree = tmp_path / "linux"  # a tree `vng -b` built: bzImage, .config, modules under .virtme_mods
    (tree / "arch/x86/boot").mkdir(parents=True)
    (tree / "arch/x86/boot/bzImage").write_bytes(bytes(data))
    (tree / ".config").write_text("CONFIG_VIRTIO_NET=m\n")
    from lab.kernel.image import from_path
    assert from_path(tree).modules_dir is None  # no modules installed: a monolithic kernel
    mods = tree / ".virtme_mods/lib/modules/0.0.0"
    mods.mkdir(parents=True)
    (mods / "modules.dep").write_text("kernel/drivers/net/virtio_net.ko:\n")
    k = from_path(tree)
    assert (k.release, k.modules_dir, k.config) == ("6.1.192-lab", mods, tree / ".config")
    assert k.spec() == str(tree)  # --resume and the manifest resolve it back to the tree
    (tmp_path / "junk").write_bytes(b"\0" * 0x400)
    with pytest.raises(ConfigError, match="not an x86 bzImage"):
        bzimage_release(tmp_path / "junk")
