"""dplab guest agent: runs in the guest (stdlib only), serves commands over a virtio-serial port.

Protocol: one JSON object per line each way.
  host -> guest  {"id": 1, "op": "run", "argv": [...], "timeout": 30, "env": {...}}
                 {"id": 2, "op": "shutdown"}
  guest -> host  {"event": "hello", ...} once at start, then
                 {"id": 1, "rc": 0, "stdout": "...", "stderr": "...", "elapsed": 0.1, "timed_out": false}
"""
import json
import os
import signal
import subprocess
import sys
import time

PORT_NAME = "dplab.ctl"


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


def run(req):
    argv = req["argv"]
    env = dict(os.environ)
    env.update(req.get("env") or {})
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                         env=env, cwd=req.get("cwd") or "/", start_new_session=True)
    timed_out = False
    try:
        out, err = p.communicate(timeout=req.get("timeout"))
    except subprocess.TimeoutExpired:
        timed_out = True
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = p.communicate()
    return {"rc": p.returncode, "stdout": out.decode(errors="replace"), "stderr": err.decode(errors="replace"),
            "elapsed": round(time.monotonic() - t0, 6), "timed_out": timed_out}


def main():
    fd = os.open(find_port(), os.O_RDWR)

    def send(obj):
        data = (json.dumps(obj) + "\n").encode()
        while data:
            n = os.write(fd, data)
            data = data[n:]

    with open("/proc/uptime") as f:
        uptime = float(f.read().split()[0])
    send({"event": "hello", "uname": os.uname().release, "uptime": uptime, "pid": os.getpid()})
    buf = b""
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:  # host not connected: virtio_console reads EOF
            time.sleep(0.05)
            continue
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if not line.strip():
                continue
            req = json.loads(line)
            if req.get("op") == "shutdown":
                send({"id": req.get("id"), "rc": 0})
                os.sync()
                return 0
            try:
                resp = run(req)
            except Exception as e:  # report, never die: the host decides
                resp = {"rc": 127, "stdout": "", "stderr": f"dplab-agent: {type(e).__name__}: {e}", "elapsed": 0, "timed_out": False}
            resp["id"] = req.get("id")
            send(resp)


if __name__ == "__main__":
    sys.exit(main())
