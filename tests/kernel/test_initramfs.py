"""The initramfs (lab/kernel/initramfs.py): module order, cpio."""
import subprocess

from lab.kernel.initramfs import Cpio, module_load_order


def test_module_order_deps_first(tmp_path):
    (tmp_path / "modules.dep").write_text(
        "kernel/fs/9p/9p.ko: kernel/net/9p/9pnet.ko kernel/fs/netfs/netfs.ko\nkernel/net/9p/9pnet.ko:\n"
        "kernel/fs/netfs/netfs.ko:\nkernel/net/9p/9pnet_virtio.ko: kernel/net/9p/9pnet.ko "
        "kernel/drivers/virtio/virtio.ko\n"
        "kernel/drivers/virtio/virtio.ko:\n")
    order = module_load_order(tmp_path, ["9p", "9pnet_virtio", "absent"])
    assert order == ["kernel/net/9p/9pnet.ko", "kernel/fs/netfs/netfs.ko", "kernel/fs/9p/9p.ko",
                     "kernel/drivers/virtio/virtio.ko", "kernel/net/9p/9pnet_virtio.ko"]
    assert module_load_order(None) == []


def test_cpio_newc_is_readable_by_cpio(tmp_path):
    c = Cpio()
    c.dir("bin")
    c.file("bin/hello", b"#!/bin/sh\necho hi\n", 0o755)
    (tmp_path / "a.cpio").write_bytes(c.finish())
    out = subprocess.run(["cpio", "-t", "-F", str(tmp_path / "a.cpio")], capture_output=True, text=True)
    assert out.stdout.split() == ["bin", "bin/hello"]
