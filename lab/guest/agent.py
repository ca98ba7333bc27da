"""dplab guest agent: runs in the guest (stdlib only), serves commands over a virtio-serial port, or with
--stdio over its standard input and output (one SSH channel to a hardware host: lab/remote).

Protocol: one JSON object per line each way.
  host -> guest  {"id": 1, "op": "run", "argv": [...], "timeout": 30, "env": {...}}
                 {"id": 2, "op": "snapshot", "namespaces": {"a": "virtio0a", "b": "virtio0b"}, "dev": "eth0"}
                 {"id": 3, "op": "links", "namespaces": [...], "dev": "eth0", "timeout": 15}
                 {"id": 4, "op": "shutdown"}
  guest -> host  {"event": "hello", ...} once at start, then
                 {"id": 1, "rc": 0, "stdout": "...", "stderr": "...", "elapsed": 0.1, "timed_out": false}
"""
import _json
import os
import signal
import subprocess
import sys
import threading
import time

PORT_NAME = "dplab.ctl"


class _Decoder:
    """What _json's C scanner reads from its context: the stdlib `json` module would also import `re` and
    `enum` (0.2 s of the agent's 0.5 s of imports under TCG)."""

    strict, object_hook, object_pairs_hook, memo = True, None, None, {}
    parse_float, parse_int, parse_constant = float, int, float


_scan = _json.make_scanner(_Decoder())


def loads(text):
    return _scan(text, 0)[0]


def dumps(obj):
    """JSON of the agent's answers: dicts, lists, strings, numbers, booleans, None."""
    if isinstance(obj, str):
        return _json.encode_basestring_ascii(obj)
    if obj is None or isinstance(obj, bool):
        return {None: "null", True: "true", False: "false"}[obj]
    if isinstance(obj, (int, float)):
        return repr(obj)
    if isinstance(obj, dict):
        return "{" + ", ".join(f"{dumps(str(k))}: {dumps(v)}" for k, v in obj.items()) + "}"
    return "[" + ", ".join(dumps(v) for v in obj) + "]"
GRACE = 0.5  # seconds to keep reading a finished command's output pipes


def find_port(name=PORT_NAME):
    base = "/sys/class/virtio-ports"
    for _ in range(100):
        for p in os.listdir(base) if os.path.isdir(base) else []:
            try:
                with open(f"{base}/{p}/name") as f:
                    if f.read().strip() == name:
                        return f"/dev/{p}"
            except OSError:
                pass
        time.sleep(0.1)
    raise SystemExit(f"dplab-agent: no virtio-serial port named {name}")


def _drain(pipe, chunks):
    for chunk in iter(lambda: pipe.read1(65536), b""):
        chunks.append(chunk)


def run(req):
    """Run argv; answer when it exits. A daemon it started may hold a copy of its stdout/stderr (dash keeps
    one when a function call is redirected into the background): output is read until EOF or, once the
    command itself has exited, for at most GRACE seconds more, so such a daemon never holds the answer."""
    argv = req["argv"]
    env = dict(os.environ)
    env.update(req.get("env") or {})
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                         env=env, cwd=req.get("cwd") or "/", start_new_session=True)
    out, err = [], []
    readers = [threading.Thread(target=_drain, args=a, daemon=True) for a in ((p.stdout, out), (p.stderr, err))]
    for t in readers:
        t.start()
    killed = []

    def kill():
        if p.returncode is not None:
            return
        killed.append(True)
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    # One timer, then a blocking wait: Popen.wait(timeout) polls every 50 ms, and those wake-ups, phased by when
    # the host's request arrived, land in a deterministic-mode window in varying numbers (docs/measurements.md)
    timer = threading.Timer(req["timeout"], kill) if req.get("timeout") else None
    if timer:
        timer.start()
    p.wait()
    if timer:
        timer.cancel()
    timed_out = bool(killed)
    deadline = time.monotonic() + GRACE
    for t in readers:
        t.join(max(0.0, deadline - time.monotonic()))
    return {"rc": p.returncode, "stdout": b"".join(out).decode(errors="replace"),
            "stderr": b"".join(err).decode(errors="replace"), "elapsed": round(time.monotonic() - t0, 6),
            "timed_out": timed_out}


def snapshot(req):
    """Counter sections read in this process (snap.py, next to this file): no process per counter source."""
    import snap
    t0 = time.monotonic()
    text = snap.snapshot(req["namespaces"], req.get("dev", "eth0"))
    return {"rc": 0, "stdout": text, "stderr": "", "elapsed": round(time.monotonic() - t0, 6), "timed_out": False}


def links(req):
    """Wait for stage 1's link wiring and for carrier in every namespace (netlink, no processes)."""
    import snap
    t0 = time.monotonic()
    snap.wait_links({ns: ns for ns in req["namespaces"]}, req.get("dev", "eth0"), req.get("timeout", 15),
                    **({"status": None} if req.get("wired") else {}))
    return {"rc": 0, "stdout": "", "stderr": "", "elapsed": round(time.monotonic() - t0, 6), "timed_out": False}


def reap():
    """As PID 1, collect orphans (daemons a command left behind that have exited). Called between requests,
    when no child of our own is running, so it never takes a command's exit status."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def power_off():
    with open("/proc/sysrq-trigger", "w") as f:
        f.write("o")
    time.sleep(10)


def init():
    """When the agent is the guest's PID 1 (stage 1 switches root straight into it): a modular kernel's
    remaining drivers, in the background."""
    rel = os.uname().release
    if os.path.exists(f"/lib/modules/{rel}/modules.dep"):
        subprocess.Popen(["modprobe", "-a", "virtio_rng"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main():
    pid1 = os.getpid() == 1
    if pid1:
        init()
    stdio = "--stdio" in sys.argv[1:]
    fd = 0 if stdio else os.open(find_port(), os.O_RDWR)
    out = 1 if stdio else fd

    def send(obj):
        data = (dumps(obj) + "\n").encode()
        while data:
            n = os.write(out, data)
            data = data[n:]

    with open("/proc/uptime") as f:
        uptime = float(f.read().split()[0])
    send({"event": "hello", "uname": os.uname().release, "uptime": uptime, "pid": os.getpid()})
    buf = b""
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:  # host not connected: virtio_console reads EOF; on stdio the channel closed
            if stdio:
                return 0
            time.sleep(0.05)
            continue
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if not line.strip():
                continue
            req = loads(line.decode())
            if req.get("op") == "shutdown":
                send({"id": req.get("id"), "rc": 0})
                os.sync()
                if pid1:  # PID 1 must not exit (the kernel would panic): power off instead
                    power_off()
                return 0
            try:
                resp = {"snapshot": snapshot, "links": links}.get(req.get("op"), run)(req)
            except Exception as e:  # report, never die: the host decides
                resp = {"rc": 127, "stdout": "", "stderr": f"dplab-agent: {type(e).__name__}: {e}", "elapsed": 0,
                        "timed_out": False}
            resp["id"] = req.get("id")
            send(resp)
            if pid1:
                reap()


if __name__ == "__main__":
    sys.exit(main())
