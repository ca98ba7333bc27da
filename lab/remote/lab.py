"""Kind `remote-lab`: the whole lab on a remote host (typically one where KVM works), driven over SSH.

- the checkout: git's files as they are in the working tree (untracked ones too, not ignored ones) and the built
  guest tools, in one tar named by its content, sent over SFTP and unpacked once into <dir>/src/<tag>;
- kernels: a `lab build` artifact (or a bare image) goes as its files into <dir>/kernels/<sha256>/, once: a
  kernel already there is not sent again; Debian specs (debian, debian:6.12) the host fetches itself;
- `lab run` runs there with the same options (its own accelerator probe: KVM where it works), its output
  streamed here; Ctrl-C sends it SIGINT (the remote run stops and keeps its records; again: SIGTERM to all);
- its run directory comes back over SFTP into the local runs root, with a `remote` section in the manifest.
"""
import gzip
import hashlib
import io
import re
import shlex
import signal
import stat
import subprocess
import tarfile
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from ..errors import ConfigError, TargetError
from ..kernel import resolve_kernel
from ..options import remote_argv
from ..paths import ROOT, TOOLS_BIN
from ..results.rundir import RunDir
from .ssh import connect, exec_sh, get_tree, private_dir, put_once

ARTIFACT_FILES = ("bzImage", "config", "build.json", "System.map")  # what a lab build's kernel dir holds for a run
PASS_THROUGH = re.compile(r"debian(:[\w.+-]+)?$")  # specs the remote resolves with its own apt


PRIVATE_KEY = re.compile(rb"(?m)^-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----\r?$")  # a PEM block, not a mention


def checkout_tar(root=ROOT):
    """(tag, tar.gz bytes) of the project's tracked files as they are in the working tree, modes kept, and the
    built guest tools: deterministic (sorted, mtime 0), so the same files give the same tag. Untracked files
    (hosts/keys/...) never go, nor any file holding a private key."""
    try:
        out = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "--cached"], capture_output=True,
                             check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise ConfigError(f"{root}: remote-lab sends a git checkout's files; git ls-files failed: {e}") from None
    files = {f for f in out.decode().split("\0") if f and (root / f).is_file() and not (root / f).is_symlink()}
    if TOOLS_BIN.is_relative_to(root):  # the built guest tools (untracked build products of the checkout)
        files |= {str(p.relative_to(root)) for p in TOOLS_BIN.glob("*") if p.is_file()}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for f in sorted(files):
            data = (root / f).read_bytes()
            if PRIVATE_KEY.search(data):
                raise ConfigError(f"{root / f}: holds a private key: remote-lab sends no keys (untrack it)")
            ti = tarfile.TarInfo(f)
            ti.size, ti.mtime, ti.mode = len(data), 0, stat.S_IMODE((root / f).stat().st_mode)
            tar.addfile(ti, io.BytesIO(data))
    raw = buf.getvalue()
    return hashlib.sha256(raw).hexdigest()[:16], gzip.compress(raw, mtime=0)


def kernel_upload(spec, say=print):
    """(remote spec or None, {name: Path} to send, sha256 or None) for one --kernel spec."""
    if spec is None or PASS_THROUGH.match(str(spec)):
        return spec, {}, None
    k = resolve_kernel(spec, say=say)
    if k.build:
        files = {n: k.image.parent / n for n in ARTIFACT_FILES if (k.image.parent / n).exists()}
    elif k.modules_dir is None:
        files = {k.image.name: k.image}
    else:
        raise ConfigError(f"--kernel {spec}: remote-lab sends `lab build` kernels and images without modules; "
                          f"for Debian's kernels give --kernel debian or debian:LINE (the host fetches its own)")
    return None, files, k.sha256


def run_flags(opts):
    """`lab run` options reproducing `opts` (all but kernels, target, hosts and runs root: options.remote_argv)."""
    return remote_argv(vars(opts))


class RemoteLab:
    """One `lab run` on a remote-lab target."""

    def __init__(self, target, runs_root, say=print):
        self.t, self.runs_root, self.say = target, runs_root, say
        self.client = self.jump = None

    def send(self, tc, opts):
        """The checkout, the testcase (if outside it) and the kernels: (src dir, testcase path, kernel specs, sent)."""
        base = private_dir(self.client, self.t.dir.rstrip("/"))
        tag, tgz = checkout_tar()
        src, sent = f"{base}/src/{tag}", []
        sftp = self.client.open_sftp()
        try:
            if put_once(sftp, f"{base}/tars/{tag}", {"checkout.tar.gz": tgz}, tag, mode=0o644):
                sent.append(f"checkout {tag} ({len(tgz) // 1024} KiB)")
            rc, _, err = exec_sh(self.client, f"set -e; d={shlex.quote(src)}; [ -e $d/.ready ] || {{ mkdir -p $d.tmp "
                                              "&& "
                                    f"tar -xzf {shlex.quote(base)}/tars/{tag}/checkout.tar.gz -C $d.tmp && "
                                    f"touch $d.tmp/.ready && rm -rf $d && mv $d.tmp $d; }}")
            if rc != 0:
                raise TargetError(f"{self.t.ssh}: unpacking the checkout into {src} failed: {err.strip()[-300:]}")
            tc_path = Path(tc.path).resolve()
            try:
                tc_remote = str(tc_path.relative_to(ROOT))
            except ValueError:  # a testcase of the user's own: next to the checkout, by content
                th = hashlib.sha256(tc.text.encode()).hexdigest()[:16]
                put_once(sftp, f"{base}/testcases/{th}", {tc_path.name: tc.text.encode()}, th, mode=0o644)
                tc_remote = f"{base}/testcases/{th}/{tc_path.name}"
            kernels = []
            for spec in opts.kernels:
                remote_spec, files, sha = kernel_upload(spec, self.say)
                if files:
                    kdir = f"{base}/kernels/{sha[:20]}"
                    if put_once(sftp, kdir, files, sha):
                        sent.append(f"kernel {spec} ({sum(p.stat().st_size for p in files.values()) // 1024} KiB)")
                    remote_spec = kdir if "bzImage" in files else f"{kdir}/{next(iter(files))}"
                kernels.append(remote_spec)
        finally:
            sftp.close()
        return src, tc_remote, kernels, sent

    def measure_there(self, tc, opts):
        t0 = time.monotonic()
        self.client, self.jump = connect(self.t)
        try:
            src, tc_remote, kernels, sent = self.send(tc, opts)
            what = "sent " + ", ".join(sent) if sent else "checkout and kernels already there"
            self.say(f"dplab: {self.t.name}: {what} ({time.monotonic() - t0:.1f} s)")
            runs = f"{self.t.dir.rstrip('/')}/runs/{uuid.uuid4().hex[:12]}"
            argv = [self.t.python, "-u", "-m", "lab.cli", "run", tc_remote, *run_flags(opts), "--runs", runs]
            for k in kernels:
                argv += ["--kernel", k]
            rc, interrupted = self.stream(f"cd {shlex.quote(src)} && echo dplab-pid $$ && exec env PYTHONPATH=. "
                                          f"{shlex.join(argv)}")
            return self.fetch(runs, tc, src, sent, rc, interrupted)
        finally:
            for c in (self.client, self.jump):
                if c is not None:
                    c.close()

    def stream(self, command):
        """Run `command`, its output as progress lines; Ctrl-C: SIGINT to it, then wait for its end. A Ctrl-C is
        noted wherever it lands (between reads, while a line prints) and passed on once the remote pid is known."""
        chan = self.client.get_transport().open_session()
        chan.set_combine_stderr(True)
        chan.settimeout(0.5)  # a pending Ctrl-C is passed on within this even while the remote run is quiet
        chan.exec_command(command)
        pid, sent, buf = None, 0, b""  # pid: the remote lab's (exec'd by the session's shell: its group too)
        with ctrl_c_noted() as pressed:
            while True:
                if pid and len(pressed) > sent:  # the first: SIGINT to the lab there (it tears its guests down and
                    # keeps its records, as on a terminal); any later: SIGTERM to its whole process group
                    sig, who = ("INT", pid) if not sent else ("TERM", f"-- -{pid}")
                    sent += 1
                    self.say(f"dplab: {self.t.name}: interrupting the remote run (SIG{sig} to {who}; Ctrl-C again: "
                             "all of it)")
                    exec_sh(self.client, f"kill -{sig} {who}", timeout=30)
                try:
                    data = chan.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    break
                buf += data
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    text = line.decode(errors="replace")
                    if pid is None and text.startswith("dplab-pid "):
                        pid = int(text.split()[1])
                    else:
                        self.say(f"[{self.t.name}] {text}")
        return chan.recv_exit_status(), bool(pressed)

    def fetch(self, runs, tc, src, sent, rc, interrupted):
        sftp = self.client.open_sftp()
        try:
            try:
                ids = sftp.listdir(runs)
            except OSError:
                ids = []
            if not ids:
                raise (KeyboardInterrupt if interrupted else ConfigError if rc == 2 else TargetError)(
                    f"{self.t.name}: the remote `lab run` made no run directory (exit status {rc}; "
                    f"its output is above)")
            if len(ids) != 1 or not re.fullmatch(r"[\w.+-]+", ids[0]) or ids[0] in (".", ".."):
                raise TargetError(f"{self.t.name}: {runs} holds {ids!r}, not one run directory: not fetched")
            local = Path(self.runs_root) / ids[0]
            get_tree(sftp, f"{runs}/{ids[0]}", local)
        finally:
            sftp.close()
        rd = RunDir(local)
        rd.update_manifest(testcase={**rd.manifest.get("testcase", {}), "path": str(tc.path)},
                           remote={"target": self.t.name, "ssh": str(self.t.ssh), "dir": self.t.dir, "src": src,
                                   "run_dir": f"{runs}/{ids[0]}", "exit_status": rc, "sent": sent})
        self.say(f"dplab: {self.t.name}: run directory fetched into {local}")
        if interrupted:
            raise KeyboardInterrupt(f"remote run interrupted; kept in {local}")
        return rd


@contextmanager
def ctrl_c_noted():
    """Within: each SIGINT appends to the yielded list instead of raising KeyboardInterrupt mid-statement (the main
    thread only; elsewhere Python delivers no signal)."""
    pressed = []
    if threading.current_thread() is not threading.main_thread():
        yield pressed
        return
    old = signal.signal(signal.SIGINT, lambda *_: pressed.append(time.monotonic()))
    try:
        yield pressed
    finally:
        signal.signal(signal.SIGINT, old)


def run_remote(tc, opts, target, say=print):
    """Run `tc` with `opts` on remote-lab `target`; returns the local RunDir of the fetched run."""
    return RemoteLab(target, opts.runs_root, say=say).measure_there(tc, opts)
