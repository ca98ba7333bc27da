"""The kernel under test on a hardware target (`kexec:` in its hosts-file entry): `lab run --kernel K --target T`
boots K on the host before measuring K's cells, and checks that it did.

One boot: the image goes over SFTP into <kexec.dir>/<sha256>/bzImage (once); `kexec -l IMAGE [--initrd=...]
--command-line=...`: the running command line, as --reuse-cmdline takes it, with the lab's token replaced (never
piled up: the token and the --append words after it always end the line, and are cut before the next) and `lab run
--append` added; then, detached, `systemctl kexec` where systemd is PID 1 (services
stopped, filesystems unmounted), else `sync; kexec -e`; then SSH again until the host answers with a new boot id,
within `kexec.timeout`. It must run the image's release with the token (the image's sha256) and the appended
arguments on its command line. A host already running K that way is not booted again. A host that does not
come back is a KexecError quoting the last lines of the serial log the hosts file names; where there is one, a
panic it prints after the kexec fails the boot at once, not at the timeout.
"""
import errno
import hashlib
import logging
import os
import shlex
import stat
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import ConfigError, GuestError, KexecError, TargetError
from ..kernel import resolve_kernel
from ..paths import cache_root
from ..vm.console import FATAL_KINDS, classify
from .env import hardware_kernel
from .ssh import connect, exec_sh, private_dir, put_once, verify_cmd

TOKEN = "dplab.kernel"
DROP = ("dplab.", "BOOT_IMAGE=", "initrd=")  # the lab's tokens; the boot loader's words --reuse-cmdline drops too
FACTS = "uname -r; cat /proc/sys/kernel/random/boot_id; cat /proc/cmdline"
GO = ("setsid -f sh -c 'sleep 1; if [ -d /run/systemd/system ]; then systemctl kexec; else sync; kexec -e; fi' "
      "</dev/null >/dev/null 2>&1")



@dataclass
class Boot:
    """One kexec (or its skip), as the manifest records it."""
    kernel: str
    sha256: str
    release: str
    boot_id: str
    cmdline: str
    came_from: str      # the release the host ran before
    seconds: float = 0.0  # from `kexec -e` to SSH answering on the new boot
    skipped: bool = False

    def describe(self):
        return asdict(self)


def token(kernel):
    return f"{TOKEN}={kernel.sha256[:16]}"


def split_cmdline(cmdline):
    """(the host's own words, the lab's: its token and the --append words after it, which end a lab command line)."""
    words = cmdline.split()
    at = next((i for i, w in enumerate(words) if w.startswith(TOKEN + "=")), len(words))
    return [w for w in words[:at] if not w.startswith(DROP)], words[at:]


def next_cmdline(current, kernel, append=()):
    return " ".join(split_cmdline(current)[0] + [token(kernel), *append])


def identity_problems(facts, kernel, append=()):
    """What says the host does not run `kernel` with exactly `append` on its command line: [] when it does."""
    ours, bad = split_cmdline(facts["cmdline"])[1], []
    if facts["release"] != kernel.release:
        bad.append(f"it runs release {facts['release']}, not {kernel.release}")
    if ours[:1] != [token(kernel)]:
        bad.append(f"its command line has {ours[0] if ours else 'no ' + TOKEN + '='}, not {token(kernel)}")
    elif ours[1:] != list(append):
        bad.append(f"its command line ends with {' '.join(ours[1:]) or '(nothing)'} after the token, not "
                   f"{' '.join(append) or '(nothing)'}")
    return bad


def serial_tail(path, n=25):
    """The last `n` lines of the host's serial log (a file here), as a block to append to an error."""
    if path is None:
        return ""
    try:
        lines = _tail(path, 0).decode(errors="replace").splitlines()
    except OSError as e:
        return f"\n(serial log {path}: {e.strerror})"
    return f"\nlast lines of its serial log {path}:\n" + "\n".join("  " + l.rstrip("\r") for l in lines[-n:])


SERIAL_SCAN = 4 << 20  # bytes of the serial log's end read (its output since a kexec is far less)


def _tail(path, start):
    """The log from byte `start` (all of it if it is now shorter: rotated), at most its last SERIAL_SCAN bytes.
    OSError if it cannot be read, or is not a regular file (a FIFO or a device would block the read or never end)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # opening a FIFO with no writer would wait for one
    with open(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        size = f.seek(0, 2)
        f.seek(max(start if size >= start else 0, size - SERIAL_SCAN))
        return f.read()


def serial_size(path):
    """Where the serial log ends now (0 if it does not exist yet): the host prints after a kexec from there."""
    try:
        return Path(path).stat().st_size if path is not None else 0
    except OSError:
        return 0


def panic_line(path, start):
    """The first line the serial log gained since byte `start` that ends a boot as on a guest's console (a panic:
    lab/vm/console.py), or None (no log, no panic, unreadable)."""
    if path is None:
        return None
    try:
        text = _tail(path, start)
    except OSError:
        return None
    for line in text.decode(errors="replace").splitlines():
        c = classify(line)
        if c and c[0] in FATAL_KINDS:
            return "".join(ch if ch.isprintable() else "?" for ch in c[1])[:200]
    return None


def host_facts(client):
    rc, out, err = exec_sh(client, FACTS, timeout=30)
    lines = out.splitlines()
    if rc != 0 or len(lines) < 3:
        raise TargetError(f"reading uname -r, boot_id, /proc/cmdline failed (exit status {rc}): {err.strip()[-200:]}")
    return {"release": lines[0].strip(), "boot_id": lines[1].strip(), "cmdline": lines[2].strip()}


def _session(target, fn):
    client, jump = connect(target)
    try:
        return fn(client)
    finally:
        for c in (client, jump):
            if c is not None:
                c.close()


def _load_and_go(target, kernel, append, say):
    """Copy, load and start `kernel`: the host's facts before it (or None: it already runs it)."""
    spec = target.kexec

    def go(client):
        before = host_facts(client)
        if not identity_problems(before, kernel, append):
            return before, True
        rdir = f"{private_dir(client, spec.dir.rstrip('/'))}/{kernel.sha256[:20]}"
        check = verify_cmd({f"{rdir}/bzImage": kernel.sha256})
        sent = False
        for _ in range(2):  # a copy there that is not this image (damaged, changed) is sent again, once
            private_dir(client, rdir)
            sftp = client.open_sftp()
            try:
                sent = put_once(sftp, rdir, {"bzImage": Path(kernel.image)}, kernel.sha256, mode=0o644) or sent
            finally:
                sftp.close()
            if exec_sh(client, check, timeout=120)[0] == 0:
                break
            exec_sh(client, f"rm -rf -- {shlex.quote(rdir)}", timeout=60)
        load = ["kexec", "-l", f"{rdir}/bzImage", f"--command-line={next_cmdline(before['cmdline'], kernel, append)}"]
        load += [f"--initrd={spec.initrd}"] if spec.initrd else []
        # the image is checked against its sha256 in the same command that loads it
        rc, _, err = exec_sh(client, f"{check} && {shlex.join(load)}", timeout=120)
        if rc != 0:
            raise KexecError(f"{target.name}: `{shlex.join(load)}` failed (exit status {rc}): {err.strip()[-400:]}; "
                             f"the host still runs {before['release']}")
        say(f"dplab: {target.name}: kexec into {kernel.name} ({kernel.release}"
            + (", image sent" if sent else ", image already there") + f"), from {before['release']}")
        exec_sh(client, GO, timeout=30)
        return before, False

    return _session(target, go)


def boot_kernel(target, kernel, append=(), say=print):
    """Make `target` run `kernel` (module docstring); returns its Boot. KexecError if it cannot or does not."""
    if target.kexec is None:
        raise ConfigError(f"{target.where}: target {target.name} has no kexec: section; it runs its own kernel")
    start = serial_size(target.kexec.serial_log)
    try:
        before, running = _load_and_go(target, kernel, append, say)
    except (KexecError, ConfigError):
        raise
    except (GuestError, TargetError) as e:  # not reachable before the kexec: gone as much as one that did not come back
        raise KexecError(f"{target.name}: before kexec into {kernel.name}: {e}", down=True) from None
    if running:
        say(f"dplab: {target.name}: already runs {kernel.name} ({kernel.release}): no kexec")
        return Boot(kernel.name, kernel.sha256, before["release"], before["boot_id"], before["cmdline"],
                    before["release"], skipped=True)
    t0 = time.monotonic()
    quiet = logging.getLogger("paramiko.transport")  # its tracebacks for each refused try while the host boots
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        return _wait(target, kernel, append, before, t0, start, say)
    finally:
        quiet.setLevel(level)


def _wait(target, kernel, append, before, t0, start, say):
    deadline, last, log = t0 + target.kexec.timeout, "no answer yet", target.kexec.serial_log
    while time.monotonic() < deadline:
        time.sleep(2)
        panic = panic_line(log, start)
        if panic:
            raise KexecError(f"{target.name}: panicked {time.monotonic() - t0:.0f} s after kexec into {kernel.name} "
                             f"({panic})" + serial_tail(log), down=True)
        try:
            facts = _session(target, host_facts)
        except ConfigError:
            raise
        except Exception as e:  # noqa: BLE001 - refused, reset, timed out, EOF: it is still on its way
            last = str(e).splitlines()[0] if str(e) else type(e).__name__
            continue
        if facts["boot_id"] == before["boot_id"]:
            last = "still answering on the boot before kexec"
            continue
        bad = identity_problems(facts, kernel, append)
        if bad:
            raise KexecError(f"{target.name}: came back after kexec into {kernel.name}, but " + "; ".join(bad)
                             + serial_tail(target.kexec.serial_log))
        seconds = round(time.monotonic() - t0, 1)
        say(f"dplab: {target.name}: runs {kernel.name} ({facts['release']}) after {seconds:.1f} s")
        return Boot(kernel.name, kernel.sha256, facts["release"], facts["boot_id"], facts["cmdline"],
                    before["release"], seconds)
    raise KexecError(f"{target.name}: did not come back within {target.kexec.timeout:g} s of kexec into {kernel.name} "
                     f"(last: {last})" + serial_tail(target.kexec.serial_log), down=True)


OWN = ("uname -r; [ -e /lib/modules/$(uname -r)/modules.dep ] && echo modular || echo built-in; "
       "if [ -r /proc/config.gz ]; then echo /proc/config.gz; zcat /proc/config.gz; "
       "elif [ -r /boot/config-$(uname -r) ]; then echo /boot/config-$(uname -r); cat /boot/config-$(uname -r); "
       "else echo none; fi")


def own_kernel(target, say=print):
    """The host's own kernel: its release and, for the preflight, its config (/proc/config.gz or /boot/config-R,
    kept here by content) and whether it loads modules."""
    out = _session(target, lambda c: exec_sh(c, OWN, timeout=60)[1])
    release, modular, source, *config = out.split("\n") + ["", "", ""]
    k = hardware_kernel(target)
    k.release = release.strip() or k.release
    if source.strip() in ("none", ""):
        say(f"dplab: {target.name}: no /proc/config.gz or /boot/config-{k.release}: its options are not checked")
        return k
    text = "\n".join(config).rstrip("\n") + "\n"
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    path = cache_root() / "hosts" / f"{target.name.replace('/', '_')}-{digest}.config"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    k.config = path
    k.modules_dir = Path(f"/lib/modules/{k.release}") if modular.strip() == "modular" else None  # on the host
    return k


def host_kernels(target, specs, say=print):
    """The kernels a hardware target measures: its own (no --kernel; its config read for the preflight), or each
    --kernel, booted with kexec: images with what the host needs built in (a `lab build`, a bzImage) or in the
    target's initrd, never one whose modules only exist here."""
    if not specs:
        return [own_kernel(target, say)]
    kernels = [resolve_kernel(s, say=say) for s in specs]
    for k in kernels:
        if k.modules_dir is not None and target.kexec.initrd is None:
            raise ConfigError(f"--kernel {k.name}: its modules ({k.modules_dir}) are not on {target.name}; kexec "
                              f"boots images with what the host needs built in (lab build, a bzImage) or in the "
                              f"target's kexec.initrd")
    return kernels
