"""Kind hardware, dual host: side a on the target's host (A), side b on another (`side_b:` in its entry, B), as
the kernel's REMOTE_TYPE=ssh. Every shipped testcase runs unchanged: its scripts run on A, and a command aimed at
side b's namespace (`ip -n port0b ...`, `ip netns exec port0b ...`; nsx and wait_* go through those) runs on B.

On A an `ip` shim first on the agent's PATH (remote/shim/ip) hands such a command to `dplab-b`, which sends it
over an SSH remote forward (a port on A's 127.0.0.1, opened by the lab's connection) to the `Relay` here, which
runs it on B in an SSH session of its own (a server started in the background there never blocks the next
command) and answers with its exit status and output. The files under /tmp it names (WireGuard keys) go with it
to the same path (and mode) on B, and its stdin when that is a pipe. Counters: A's agent reads side a and the global
sections (softnet, CPU), B's agent side b; `perf stat` counts on A. The kernel's driver tests reach B the same
way: `ssh dplab-b CMD` and `scp FILE dplab-b:PATH` (shim/ssh, shim/scp) run in side b's namespace there; any other
destination is the real ssh.
"""
import base64
import hmac
import json
import posixpath
import secrets
import shlex
import stat
import threading
import time
from pathlib import Path

from .ssh import PATH, exec_sh, session_output

SHIMS = Path(__file__).parent / "shim"
SSH_NAME = "dplab-b"  # the ssh destination the ssh and scp shims take to B (the selftests' REMOTE_ARGS)
GRACE = 1.0  # seconds to keep reading a command's output after it exited (a daemon may hold its stdout)


def shim_files():
    return {p.name: p.read_bytes() for p in sorted(SHIMS.iterdir()) if p.is_file()}


def _read_line(chan, limit=64 << 20):
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = chan.recv(65536)
        if not chunk or len(buf) > limit:
            break
        buf += chunk
    return buf


def drop_globals(snapshot_text):
    """B's snapshot without the sections A already gives (softnet, stat: the run's CPU is A's)."""
    out, keep = [], True
    for line in snapshot_text.splitlines(keepends=True):
        if line.startswith("@@ "):
            keep = line.split()[1] not in ("softnet", "stat")
        if keep:
            out.append(line)
    return "".join(out)


def tmp_path(path):
    """`path` if it is a normalised absolute path under /tmp (no '..', no '//', no NUL), else RelayError."""
    if not isinstance(path, str) or not path.startswith("/tmp/") or posixpath.normpath(path) != path or "\0" in path:
        raise RelayError(f"{path!r}: files go to B only as normalised paths under /tmp")
    return path


class RelayError(Exception):
    """A request the relay refuses (wrong key, a path outside /tmp, a link on the way)."""


def put_no_follow(sftp, path, data, mode, uid):
    """Write `path` on B without following a link anywhere: each directory under /tmp must be a real one of `uid`
    (made 0700 if absent), the file goes in under a random name and is renamed over whatever entry was there."""
    parts = path.split("/")[2:]  # below /tmp
    d = "/tmp"
    for part in parts[:-1]:
        d = f"{d}/{part}"
        try:
            a = sftp.lstat(d)
        except FileNotFoundError:
            sftp.mkdir(d, 0o700)
            a = sftp.lstat(d)
        if not stat.S_ISDIR(a.st_mode) or a.st_uid != uid:
            raise RelayError(f"{d} on B is not a directory of uid {uid} (a link, or someone else's): not written")
    tmp = f"{d}/.dplab-{secrets.token_hex(8)}"
    with sftp.open(tmp, "wx") as f:
        f.chmod(mode & 0o777)  # before the bytes: a private key is never readable by others there
        f.write(data)
    sftp.posix_rename(tmp, path)


class Relay:
    """Commands from A's `dplab-b`, run on B (`host_b`: its AgentHost, connected). Only a request carrying this
    run's key (`key`, given to A's agent alone) from A's loopback is served."""

    def __init__(self, host_b, log=None):
        self.host_b, self.log = host_b, log
        self.port = None
        self.key = secrets.token_hex(16)
        self.uid = None
        self.lock = threading.Lock()

    def open(self, client_a):
        """Ask A's sshd to forward a port on its 127.0.0.1 to us: that port."""
        self.port = client_a.get_transport().request_port_forward("127.0.0.1", 0, handler=self._accept)
        return self.port

    def _accept(self, chan, origin, server):
        threading.Thread(target=self._serve, args=(chan, origin), daemon=True, name="dplab-relay").start()

    def _serve(self, chan, origin=("127.0.0.1", 0)):
        try:
            try:
                if origin[0] not in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):
                    raise RelayError(f"a connection from {origin[0]}: only A's loopback is served")
                req = json.loads(_read_line(chan))
                if not isinstance(req, dict) or not hmac.compare_digest(str(req.get("key", "")), self.key):
                    raise RelayError("a request without this run's key: refused")
                if not isinstance(req.get("argv"), list) or not all(isinstance(a, str) for a in req["argv"]):
                    raise RelayError("a request whose argv is not a list of strings: refused")
                rc, out, err = self.run_on_b(req)
            except Exception as e:  # noqa: BLE001 - any failure is the command's, reported where it ran
                rc, out, err = 255, b"", f"dplab relay to {self.host_b.target.ssh}: {type(e).__name__}: {e}\n".encode()
            chan.sendall(json.dumps({"rc": rc, "stdout": base64.b64encode(out).decode(),
                                     "stderr": base64.b64encode(err).decode()}).encode() + b"\n")
        finally:
            chan.close()

    def run_on_b(self, req):
        t0 = time.monotonic()
        rc, out, err = self._run_on_b(req)
        if self.log:
            with self.lock:
                self.log({"host": "b", "argv": req["argv"], "files": sorted(req.get("files") or {}), "rc": rc,
                          "host_elapsed": round(time.monotonic() - t0, 3), "at": round(time.time(), 3),
                          "stderr": err.decode(errors="replace")[-2000:]})
        return rc, out, err

    def _run_on_b(self, req):
        client = self.host_b.client
        if req.get("files"):
            files = {tmp_path(p): v for p, v in req["files"].items()}
            if self.uid is None:
                self.uid = int(exec_sh(client, "id -u", timeout=30)[1])
            sftp = client.open_sftp()
            try:
                for path, (data, mode) in files.items():
                    put_no_follow(sftp, path, base64.b64decode(data), int(mode), self.uid)
            finally:
                sftp.close()
        s = client.get_transport().open_session()
        s.exec_command(f"cd / && exec env PATH={self.host_b.rdir}/bin:{PATH} LANG=C.UTF-8 {shlex.join(req['argv'])}")
        if req.get("stdin"):
            s.sendall(base64.b64decode(req["stdin"]))
        s.shutdown_write()
        out, err = session_output(s, grace=GRACE)  # a daemon it started may hold its output: GRACE after the exit
        err = [err]
        if not s.exit_status_ready():
            err.append(f"dplab relay: the session on {self.host_b.target.ssh} closed without an exit status\n".encode())
        rc = s.recv_exit_status() if s.exit_status_ready() else 255
        s.close()
        return rc, out, b"".join(err)
