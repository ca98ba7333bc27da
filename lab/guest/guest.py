"""Guest: the host's handle to run commands in a booted guest, over the agent's virtio-serial socket.

One API whatever runs the commands (`run`, `ns_run`, `sh`): stdout, stderr, exit code, a timeout per
command. A crash report on the console or QEMU exiting turns into GuestCrash / GuestError with the
console tail, never a hang.
"""
import json
import shlex
import socket
import time
from dataclasses import dataclass

from ..errors import GuestCrash, GuestError

MAX_MESSAGE = 256 << 20  # bytes of one answer from an agent (a guest's output is bounded here)


@dataclass
class GuestResult:
    argv: list
    rc: int
    stdout: str
    stderr: str
    elapsed: float
    timed_out: bool = False


class Guest:
    """Commands in the guest. `vm` supplies alive(), console and the boot facts."""

    def __init__(self, sock_path, vm, log=None, timeout_scale=1.0):
        self.sock_path = str(sock_path)
        self.timeout_scale = timeout_scale  # guest seconds per host second of a command's timeout (modes.py)
        self.vm = vm
        self.sock = None
        self.buf = b""
        self.next_id = 1
        self.log = log  # callable(dict) receiving every command and its outcome

    # -- channel --------------------------------------------------------------
    def connect(self, deadline):
        while True:
            self._check_vm("connecting to the guest agent")
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(self.sock_path)
                s.settimeout(0.2)
                self.sock = s
                return
            except (FileNotFoundError, ConnectionRefusedError):
                s.close()
            if time.monotonic() > deadline:
                raise GuestError(f"QEMU never opened the control socket {self.sock_path}", self._tail())
            time.sleep(0.05)

    def wait_hello(self, deadline):
        msg = self._recv(deadline, "booting to the guest agent")
        if msg.get("event") != "hello":
            raise GuestError(f"unexpected first message from the guest agent: {msg}")
        return msg

    def _tail(self):
        return self.vm.console.tail_text() or "(nothing on the serial console)"

    def _check_vm(self, doing):
        rep = self.vm.console.fatal()
        if rep:
            raise GuestCrash(rep)
        if not self.vm.alive():
            self.vm.console.wait_eof(2)
            rep = self.vm.console.fatal(settle=0)
            if rep:
                raise GuestCrash(rep)
            said = getattr(self.vm, "stderr_tail", lambda: "")()
            raise GuestError(f"{getattr(self.vm, 'what', 'QEMU')} exited (rc={self.vm.returncode()}) while {doing}"
                             + (f"; it said:\n{said}" if said else ""), self._tail())

    def _settle(self, wait=2.0):
        """The channel closed: give the process behind it time to be reaped (a killed QEMU closes its
        sockets and console before its exit status exists), so the error says what happened."""
        self.vm.console.wait_eof(wait)
        end = time.monotonic() + wait
        while self.vm.alive() and time.monotonic() < end:
            time.sleep(0.02)

    def _closed(self, doing, err=None):
        """The channel closed (`err`: the OSError that said so): what happened to the guest, raised if QEMU died or
        the kernel crashed, else the GuestError to raise."""
        self._settle()
        self._check_vm(doing)
        return GuestError(f"control channel closed{f' ({err.strerror})' if err else ''} while {doing}", self._tail())

    def _recv(self, deadline, doing):
        while b"\n" not in self.buf:
            self._check_vm(doing)
            if time.monotonic() > deadline:
                raise GuestError(f"timed out while {doing}", self._tail())
            try:
                chunk = self.sock.recv(1 << 20)
            except socket.timeout:
                continue
            except OSError as e:  # QEMU killed mid-read: a reset, not an end of file (the cell fails, not the run)
                raise self._closed(doing, e) from e
            if not chunk:
                raise self._closed(doing)
            self.buf += chunk
            if len(self.buf) > MAX_MESSAGE:
                raise GuestError(f"the agent sent over {MAX_MESSAGE >> 20} MiB in one answer while {doing}: not read")
        line, self.buf = self.buf.split(b"\n", 1)
        try:
            msg = json.loads(line)
        except ValueError:
            raise GuestError(f"the agent sent a line that is not JSON while {doing}: {line[:200]!r}") from None
        if not isinstance(msg, dict):
            raise GuestError(f"the agent sent {type(msg).__name__}, not an object, while {doing}")
        return msg

    def _request(self, req, timeout, doing):
        """Send a request, wait for its answer. An agent that does not answer in time (the command's own
        timeout has a 15 s margin inside the guest) means a hung guest: QEMU is stopped, so nothing
        later waits on it and the runner can boot a fresh one."""
        req["id"] = self.next_id
        self.next_id += 1
        try:
            self.sock.sendall((json.dumps(req) + "\n").encode())
        except OSError as e:
            raise self._closed(doing, e) from e
        deadline = time.monotonic() + timeout
        while True:
            try:
                msg = self._recv(deadline, doing)
            except GuestError as e:
                if self.vm.alive() and time.monotonic() > deadline:
                    tail = self._tail()
                    self.vm.kill()
                    raise GuestError(f"guest stopped answering while {doing}; QEMU stopped", tail) from e
                raise
            if msg.get("id") == req["id"]:
                return msg

    # -- commands ---------------------------------------------------------------
    def run(self, argv, timeout=60, check=True, env=None):
        """Run argv (list, no shell) in the guest; GuestError on non-zero exit if check."""
        argv = [str(a) for a in argv]
        doing = f"running {shlex.join(argv)[:200]}"
        n_reports = len(self.vm.console.reports)
        t0 = time.monotonic()
        resp = self._request({"op": "run", "argv": argv, "timeout": timeout * self.timeout_scale, "env": env or {}},
                             timeout + 15, doing)
        res = GuestResult(argv, resp["rc"], resp["stdout"], resp["stderr"], resp["elapsed"],
                          resp.get("timed_out", False))
        if self.log:
            self.log({"argv": argv, "rc": res.rc, "elapsed": res.elapsed,
                      "host_elapsed": round(time.monotonic() - t0, 3),
                      "at": round(time.time(), 3), "timed_out": res.timed_out,
                      "stderr": res.stderr[-2000:]})
        new = self.vm.console.reports_since(n_reports)
        self._check_vm(doing)
        if new:
            raise GuestCrash(new[0], result=res)
        if res.timed_out:
            raise GuestError(f"guest command timed out after {timeout}s: {shlex.join(argv)}\n{res.stderr[-1500:]}")
        if check and res.rc != 0:
            raise GuestError(f"guest command failed (rc={res.rc}): {shlex.join(argv)[:500]}\n"
                             f"--- stdout ---\n{res.stdout[-1500:]}\n--- stderr ---\n{res.stderr[-1500:]}",
                             stderr=res.stderr)
        return res

    def _op(self, op, doing, wait, **args):
        """An agent operation other than running a command (logged like one), answered within `wait` s;
        GuestError if it failed."""
        t0 = time.monotonic()
        resp = self._request({"op": op, **args}, wait, doing)
        if self.log:
            self.log({"op": op, **args, "rc": resp["rc"], "elapsed": resp["elapsed"],
                      "host_elapsed": round(time.monotonic() - t0, 3), "at": round(time.time(), 3),
                      "stderr": resp["stderr"][-2000:]})
        self._check_vm(doing)
        if resp["rc"] != 0:
            raise GuestError(f"{doing} failed: {resp['stderr'][-1500:]}")
        return resp["stdout"]

    def snapshot(self, namespaces, dev="eth0", timeout=60):
        """Counter sections of each {side: netns} (and the global ones), read by the agent itself."""
        return self._op("snapshot", f"reading counters of {', '.join(namespaces.values())}", timeout,
                        namespaces=namespaces, dev=dev)

    def wait_links(self, namespaces, dev="eth0", timeout=15, wired=False):
        """Stage 1 wired the links (or, `wired`, the caller did): wait for it, and for carrier in every namespace."""
        self._op("links", "waiting for the links' carrier", timeout + 15, namespaces=list(namespaces), dev=dev,
                 timeout=timeout * self.timeout_scale, wired=wired)

    def sh(self, script, timeout=60, check=True, env=None):
        """Run a script we generated (templates quote every value) with /bin/sh -e."""
        return self.run(["sh", "-ec", script], timeout=timeout, check=check, env=env)

    def ns_run(self, ns, argv, **kw):
        return self.run(["ip", "netns", "exec", ns, *argv], **kw)

    def shutdown(self, timeout=5):
        try:
            self._request({"op": "shutdown"}, timeout, "shutting down")
        except (GuestError, OSError):
            pass

    def close(self):
        if self.sock:
            self.sock.close()
            self.sock = None
