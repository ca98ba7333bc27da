"""Choose the accelerator by a real probe boot, never by the existence of /dev/kvm.

A KVM whose VM creation succeeds can still hang guests at boot (seen on this machine): the probe
boots the kernel with a tiny initramfs under KVM and waits for its marker, with a timeout.
The verdict is cached per host boot (boot_id) and QEMU binary.
"""
import json
import os
import subprocess
import time
from pathlib import Path

from ..host import which
from ..kernel.initramfs import build_initramfs
from ..paths import cache_root

PROBE_TIMEOUT = 12.0
MARKER = b"dplab-probe-ok"


def kvm_usable_quick():
    """Cheap preconditions only: the device exists and opens read-write."""
    try:
        fd = os.open("/dev/kvm", os.O_RDWR)
        os.close(fd)
        return True
    except OSError:
        return False


def probe_kvm(kernel, timeout=PROBE_TIMEOUT):
    """(ok, reason, seconds): boot `kernel` under KVM to the probe marker within `timeout`."""
    if not kvm_usable_quick():
        return False, "/dev/kvm missing or not accessible", 0.0
    initrd = build_initramfs(kernel, probe=True)
    argv = [which("qemu-system-x86_64"), "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-accel", "kvm", "-cpu", "host", "-m", "256M", "-smp", "1", "-serial", "stdio",
            "-kernel", str(kernel.image), "-initrd", str(initrd),
            "-append", "console=ttyS0 panic=-1 rdinit=/init quiet"]
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    out = b""
    try:
        os.set_blocking(p.stdout.fileno(), False)
        while time.monotonic() - t0 < timeout:
            chunk = p.stdout.read() or b""
            out += chunk
            if MARKER in out:
                return True, "probe boot reached init", time.monotonic() - t0
            if p.poll() is not None and not chunk:
                said = out.decode(errors="replace")[-300:].strip()
                return False, f"QEMU exited rc={p.returncode}: {said}", time.monotonic() - t0
            time.sleep(0.1)
        return False, f"guest printed no init marker within {timeout:.0f}s (hang)", time.monotonic() - t0
    finally:
        p.kill()
        p.wait()


def choose_accel(kernel, requested=None, say=print):
    """'kvm' or 'tcg' plus the evidence. `requested` ('kvm'/'tcg') overrides the probe."""
    if requested in ("kvm", "tcg"):
        return requested, {"requested": requested, "probe": None}
    key = f"{Path('/proc/sys/kernel/random/boot_id').read_text().strip()}:{which('qemu-system-x86_64')}"
    cache = cache_root() / "accel.json"
    try:
        cached = json.loads(cache.read_text())
    except (OSError, ValueError):
        cached = {}
    if cached.get("key") == key:
        return cached["accel"], {"probe": cached["probe"], "cached": True}
    ok, reason, secs = probe_kvm(kernel)
    accel = "kvm" if ok else "tcg"
    probe = {"kvm_ok": ok, "reason": reason, "seconds": round(secs, 2)}
    if not ok:
        say(f"dplab: KVM not usable ({reason}); using TCG (slower). Cached until the host reboots.")
    cache.write_text(json.dumps({"key": key, "accel": accel, "probe": probe}))
    return accel, {"probe": probe, "cached": False}
