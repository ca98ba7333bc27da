"""Targets in a hosts file (YAML, validated like testcases: errors name file:line).

    targets:
      bench1:
        kind: hardware                    # one host, two ports cabled back to back (the lab's link a and b)
        ssh: ssh://root@bench1.example:22
        key: ~/.ssh/dplab_ed25519         # never a password in a file; never agent forwarding
        known_hosts: hosts/known_hosts    # pinned host keys: an unknown or changed key is refused
        ports: {a: enp1s0f0, b: enp1s0f1}
        jump: ssh://me@gateway.example    # optional: reached through this host (direct-tcpip channel)
        side_b: {ssh: ssh://root@gen1.example}  # optional: side b on this other host (ports.b is its port; key,
                                          # known_hosts, python, jump as above unless given): remote/dual.py
        kexec:                            # optional: `lab run --kernel K --target bench1` kexecs into K
          timeout: 300                    # seconds for the host to come back over SSH, else the block's cells fail
          serial_log: /srv/console/bench1.log  # optional, here: its last lines go into that failure; a panic
                                          # it shows after the kexec fails the boot at once
          initrd: /boot/initrd.img-lab    # optional, on the host
      kvm1:
        kind: remote-lab                  # the whole lab runs there (remote/lab.py): KVM, its own cores
        ssh: ssh://root@kvm1.example
        key: ~/.ssh/dplab_ed25519
        known_hosts: hosts/known_hosts
        python: /srv/dplab/.venv/bin/python  # a Python with the lab's dependencies (make setup in a checkout there)
        dir: /srv/dplab-remote            # checkouts, kernels and runs, each by content
"""
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from ..workloads.schema import Key, compose, line_of, validate

KINDS = ("hardware", "remote-lab")
IFNAME = re.compile(r"[A-Za-z0-9_.@-]{1,15}")  # what the kernel takes as a netdev name, less ':' and '/'
PATHLIKE = re.compile(r"[A-Za-z0-9_./+~-]+")
URL = re.compile(r"ssh://(?:(?P<user>[^@/:\s]+)@)?(?P<host>\[[0-9a-fA-F:]+\]|[^@/:\s\[\]]+)(?::(?P<port>\d+))?/?")
TARGET_SCHEMA = {
    "kind": Key((str,), required=True, help="hardware (two ports of one host, cabled back to back) or remote-lab"),
    "ssh": Key((str,), required=True, help="ssh://user@host[:port]"),
    "key": Key((str,), required=True, help="private key file (relative: to the hosts file)"),
    "known_hosts": Key((str,), required=True, help="known_hosts file pinning the host keys (relative: to the hosts "
                                                   "file)"),
    "jump": Key((str,), default=None, help="ssh://user@host[:port] to reach the target through (same key)"),
    "ports": Key((dict,), default={}, items=(str,), help="hardware: {a: IFNAME, b: IFNAME}"),
    "keepalive": Key((int, float), default=30, min=1, max=3600, help="seconds between SSH keepalives"),
    "connect_timeout": Key((int, float), default=10, min=1, max=600),
    "python": Key((str,), default="python3", help="the host's Python 3 (runs the lab's agent; remote-lab: the lab)"),
    "dir": Key((str,), default="dplab-remote", help="remote-lab: directory for checkouts, kernels, runs (relative: "
                                                    "home)"),
    "kexec": Key((dict,), default=None, help="hardware: boot --kernel images with kexec (timeout, serial_log, initrd, "
                                             "dir)"),
    "side_b": Key((dict,), default=None, help="hardware: side b on another host {ssh, key, known_hosts, python, jump}"),
}
SIDE_B_SCHEMA = {"ssh": TARGET_SCHEMA["ssh"], **{k: Key((str,), default=None, help="as side a's unless given")
                                                 for k in ("key", "known_hosts", "python", "jump")}}
KEXEC_SCHEMA = {
    "timeout": Key((int, float), default=300, min=5, max=3600, help="seconds for the host to come back over SSH"),
    "serial_log": Key((str,), default=None, help="a file here with the host's serial console (relative: to the hosts "
                                                 "file)"),
    "initrd": Key((str,), default=None, help="an initrd on the host, passed to kexec -l"),
    "dir": Key((str,), default="/var/tmp/dplab-kernels", help="where images go on the host, by content"),
}


@dataclass(frozen=True)
class KexecSpec:
    timeout: float = 300
    serial_log: Path | None = None
    initrd: str | None = None
    dir: str = "/var/tmp/dplab-kernels"


@dataclass(frozen=True)
class Endpoint:
    user: str
    host: str
    port: int

    def __str__(self):
        return f"ssh://{self.user}@{self.host}:{self.port}"


@dataclass
class Target:
    name: str
    kind: str
    ssh: Endpoint
    key: Path
    known_hosts: Path
    jump: Endpoint | None = None
    ports: dict = field(default_factory=dict)
    keepalive: float = 30
    connect_timeout: float = 10
    python: str = "python3"
    dir: str = "dplab-remote"
    kexec: KexecSpec | None = None
    side_b: "Target | None" = None  # hardware, dual host: the host of side b (its port: ports["b"])
    where: str = ""  # file:line, for errors about this target


def endpoint(url, where):
    m = URL.fullmatch(url)
    if not m:
        raise ConfigError(f"{where}: {url!r} is not ssh://user@host[:port]")
    return Endpoint(m["user"] or "root", m["host"].strip("[]"), int(m["port"] or 22))


def load_hosts(path):
    """{name: Target} of a hosts file."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read hosts file: {e.strerror}") from e
    data, marks = compose(path, text)
    top = validate(data or {}, {"targets": Key((dict,), required=True, items=(dict,))}, path, marks)
    out = {}
    for name, spec in top["targets"].items():
        t = validate(spec, TARGET_SCHEMA, path, marks, ("targets", name))
        def where(*k, name=name):
            return f"{path}:{line_of(marks, ('targets', name) + k)}: targets.{name}" + "".join(f".{x}" for x in k)
        if t["kind"] not in KINDS:
            raise ConfigError(f"{where('kind')}: unknown kind {t['kind']!r}; known: {', '.join(KINDS)}")
        if t["kind"] == "hardware" and set(t["ports"]) != {"a", "b"}:
            raise ConfigError(f"{where('ports')}: a hardware target names its two ports: {{a: IFNAME, b: IFNAME}}")
        for side, port in t["ports"].items():
            if not IFNAME.fullmatch(port) or port in (".", ".."):
                raise ConfigError(f"{where('ports', side)}: {port!r} is not an interface name (1-15 of A-Z a-z 0-9 _ . "
                                  "- @)")
        for k in ("python", "dir"):
            if not PATHLIKE.fullmatch(t[k]):
                raise ConfigError(f"{where(k)}: {t[k]!r}: a path of letters, digits and / . _ - + ~ only")
        files = {k: (path.parent / Path(t[k]).expanduser()) for k in ("key", "known_hosts")}
        for k, f in files.items():
            if not f.is_file():
                raise ConfigError(f"{where(k)}: no such file {f}")
        kx = None
        if t["kexec"] is not None:
            if t["kind"] != "hardware":
                raise ConfigError(f"{where('kexec')}: only a hardware target kexecs (a remote-lab target boots guests)")
            k = validate(t["kexec"], KEXEC_SCHEMA, path, marks, ("targets", name, "kexec"))
            for key in ("dir", "initrd"):
                if k[key] is not None and not (PATHLIKE.fullmatch(k[key]) and k[key].startswith("/")):
                    raise ConfigError(f"{where('kexec', key)}: {k[key]!r}: an absolute path of letters, digits and / . "
                                      "_ - +")
            kx = KexecSpec(k["timeout"], path.parent / Path(k["serial_log"]).expanduser() if k["serial_log"] else None,
                           k["initrd"], k["dir"])
        out[name] = Target(name, t["kind"], endpoint(t["ssh"], where("ssh")), files["key"], files["known_hosts"],
                           endpoint(t["jump"], where("jump")) if t["jump"] else None, dict(t["ports"]),
                           t["keepalive"], t["connect_timeout"], t["python"], t["dir"], kx, where=where())
        if t["side_b"] is not None:
            out[name].side_b = side_b(out[name], t["side_b"], path, marks, lambda *k, where=where: where("side_b", *k),
                                      ("targets", name, "side_b"))
    return out


def side_b(a, spec, path, marks, where, keys):
    """The Target of a dual-host entry's side b: its own ssh, the rest as side a's unless given."""
    if a.kind != "hardware":
        raise ConfigError(f"{where()}: only a hardware target has a side b on another host")
    b = validate(spec, SIDE_B_SCHEMA, path, marks, keys)
    files = {k: (path.parent / Path(b[k]).expanduser()) if b[k] else getattr(a, k) for k in ("key", "known_hosts")}
    for k, f in files.items():
        if not f.is_file():
            raise ConfigError(f"{where(k)}: no such file {f}")
    return Target(f"{a.name}/b", "hardware", endpoint(b["ssh"], where("ssh")), files["key"], files["known_hosts"],
                  endpoint(b["jump"], where("jump")) if b["jump"] else a.jump, {}, a.keepalive, a.connect_timeout,
                  b["python"] or a.python, a.dir, where=where())


def get_target(path, name):
    targets = load_hosts(path)
    if name not in targets:
        raise ConfigError(f"{path}: no target {name!r}; targets: {', '.join(targets) or '(none)'}")
    return targets[name]
