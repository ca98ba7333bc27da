"""SSH to a target with paramiko: pinned host keys, a key file, keepalives, an optional jump host; and the
lab's agent (guest/agent.py --stdio) on one persistent channel, so a command costs a JSON line each way
instead of an exec_command (a new channel, a shell, an environment).

The agent is the guest's: the same protocol, the same process-group kill on timeout, the same counter
snapshots; `lab.guest.Guest` drives it through `AgentHost`, which stands where the VM stands for a guest.
"""
import base64
import hashlib
import re
import shlex
import stat
import time

from ..errors import ConfigError, TargetError
from ..guest import AGENT_FILES, GUEST_SOURCES
from ..paths import TOOLS_BIN
from ..results import untrusted

# the project's traffic tools, on the agent's PATH as in a guest (/lab/bin)
TOOL_FILES = ("xsk_tx", "udpgso_tx", "tcp_stream")
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def fingerprint(key):
    return "SHA256:" + base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")


def _known_name(ep):
    return ep.host if ep.port == 22 else f"[{ep.host}]:{ep.port}"


def _refuse_unknown(known_hosts):
    import paramiko

    class Refuse(paramiko.MissingHostKeyPolicy):
        def missing_host_key(self, client, hostname, key):
            raise ConfigError(f"{hostname}: host key not in {known_hosts} ({key.get_name()} {fingerprint(key)}); "
                              f"if that is the host's key, add this line:\n{hostname} {key.get_name()} "
                              f"{key.get_base64()}")
    return Refuse()


def _client(ep, target, sock=None):
    import paramiko
    c = paramiko.SSHClient()
    c.load_host_keys(str(target.known_hosts))  # only these: never ~/.ssh/known_hosts, never saved back
    c.set_missing_host_key_policy(_refuse_unknown(target.known_hosts))
    try:
        c.connect(ep.host, port=ep.port, username=ep.user, key_filename=str(target.key), timeout=target.connect_timeout,
                  banner_timeout=target.connect_timeout, auth_timeout=target.connect_timeout, sock=sock,
                  allow_agent=False, look_for_keys=False)
    except paramiko.BadHostKeyException as e:
        raise ConfigError(f"{_known_name(ep)}: host key CHANGED: {target.known_hosts} pins "
                          f"{fingerprint(e.expected_key)}, "
                          f"the host offers {e.key.get_name()} {fingerprint(e.key)}; refusing (fix the file if the "
                          f"change is known)") from None
    except paramiko.AuthenticationException as e:
        raise ConfigError(f"{ep}: authentication with {target.key} failed: {e}") from None
    except (OSError, paramiko.SSHException) as e:  # (an unknown key raised ConfigError above, through connect)
        raise TargetError(f"{ep} ({target.where}): cannot connect: {e}") from None
    c.get_transport().set_keepalive(int(target.keepalive))
    return c


def connect(target):
    """An SSHClient to `target`, through its jump host if it names one (a direct-tcpip channel)."""
    if target.jump is None:
        return _client(target.ssh, target), None
    jump = _client(target.jump, target)
    chan = jump.get_transport().open_channel("direct-tcpip", (target.ssh.host, target.ssh.port), ("127.0.0.1", 0))
    return _client(target.ssh, target, sock=chan), jump


def exec_sh(client, command, timeout=600):
    """(exit status, stdout, stderr) of `command` in a session of its own (for the few commands outside the agent).
    TargetError when it has not ended within `timeout` s (its channel is closed: the lab never hangs on it)."""
    chan = client.get_transport().open_session()
    chan.exec_command(command)
    out, err = session_output(chan, timeout=timeout)
    if not chan.exit_status_ready():
        chan.close()
        raise TargetError(f"{client.get_transport().getpeername()[0]}: `{command[:200]}` did not end within "
                          f"{timeout:g} s")
    rc = chan.recv_exit_status()
    chan.close()
    return rc, out.decode(errors="replace"), err.decode(errors="replace")


def session_output(chan, timeout=None, grace=None):
    """(stdout, stderr) bytes of a session's command: read until it exited and its output ended (EOF, or `grace` s
    after the exit when a daemon it started holds the output open), or until `timeout` s have passed."""
    out, err, exited, t0 = [], [], None, time.monotonic()
    while not chan.closed:
        got = False
        while chan.recv_ready():
            out.append(chan.recv(65536))
            got = True
        while chan.recv_stderr_ready():
            err.append(chan.recv_stderr(65536))
            got = True
        if chan.exit_status_ready() and not got:
            exited = exited or time.monotonic()
            if chan.eof_received or (grace is not None and time.monotonic() - exited > grace):
                break
        if timeout is not None and time.monotonic() - t0 > timeout:
            break
        if not got:
            time.sleep(0.01)
    while chan.recv_ready():
        out.append(chan.recv(65536))
    while chan.recv_stderr_ready():
        err.append(chan.recv_stderr(65536))
    return b"".join(out), b"".join(err)


def private_dir(client, path, fresh=False):
    """`path` as a directory only the login user can use: made with mode 0700 (with `fresh`, it must not exist
    yet); an existing one must be a real directory (not a link) of that user, closed to group and others.
    TargetError naming the host and path otherwise: nothing is put in a directory someone else could write."""
    q = shlex.quote(path)
    mk = f"mkdir -m 0700 -- {q}" if fresh else f"{{ [ -e {q} ] || [ -L {q} ] || mkdir -p -m 0700 -- {q}; }}"
    rc, out, err = exec_sh(client, f"umask 077; {mk} && stat -c '%u %a %F' -- {q} && id -u", timeout=60)
    host = client.get_transport().getpeername()[0]
    if rc != 0:
        raise TargetError(f"{host}: cannot make the private directory {path}: {err.strip()[-300:]}")
    (uid, mode, *kind), me = out.split("\n")[0].split(), out.split("\n")[1].strip()
    if " ".join(kind) != "directory" or uid != me or int(mode, 8) & 0o077:
        raise TargetError(f"{host}: {path} is a {' '.join(kind)} of uid {uid}, mode {mode}: not a private directory "
                         f"of uid {me}; refusing to put anything there (remove it, or name another dir)")
    return path


def verify_cmd(files):
    """A shell prefix that fails unless each {remote path: sha256 hex} has that content."""
    lines = "".join(f"{h}  {p}\n" for p, h in files.items())
    return f"printf %s {shlex.quote(lines)} | sha256sum -c --quiet --strict - >&2"


def put_once(sftp, rdir, blobs, tag, mode=0o755):
    """Files {relative name: bytes or local Path} into `rdir` (a private directory: private_dir), unless a finished
    copy is there (`.ready`, written last; each file renamed into place). Returns whether anything was sent."""
    try:
        sftp.stat(f"{rdir}/.ready")
        return False
    except OSError:
        pass
    dirs = sorted({rdir} | {f"{rdir}/{d}" for n in blobs for d in _parents(n)}, key=len)
    for d in dirs:
        mkdir_p(sftp, d)
    for n, data in blobs.items():
        if isinstance(data, bytes):
            with sftp.open(f"{rdir}/{n}.tmp", "wb") as f:
                f.chmod(mode)
                f.write(data)
        else:
            sftp.put(str(data), f"{rdir}/{n}.tmp")
            sftp.chmod(f"{rdir}/{n}.tmp", mode)
        sftp.posix_rename(f"{rdir}/{n}.tmp", f"{rdir}/{n}")
    with sftp.open(f"{rdir}/.ready", "w") as f:
        f.write(tag)
    return True


def get_tree(sftp, rpath, lpath, limit=untrusted.MAX_READ):
    """The remote directory `rpath` (files and subdirectories) into the local `lpath`. Names are the target's:
    one with a '/', '..' or a NUL is refused, links and special files are skipped, files past `limit` not read."""
    lpath.parent.mkdir(parents=True, exist_ok=True)  # ours; below it, names are the target's
    untrusted.make_dir(lpath.parent, lpath.name)
    for a in sftp.listdir_attr(rpath):
        name = a.filename
        if "/" in name or name in (".", "..") or "\0" in name:
            raise untrusted.UnsafePath(f"{rpath}: the target names a file {name!r}: refusing it")
        if stat.S_ISDIR(a.st_mode):
            get_tree(sftp, f"{rpath}/{name}", lpath / name, limit)
        elif stat.S_ISREG(a.st_mode):
            if a.st_size > limit:
                raise TargetError(f"{rpath}/{name}: {a.st_size} bytes, over {limit}: not fetched")
            with sftp.open(f"{rpath}/{name}", "rb") as f:
                untrusted.write_bytes(lpath, name, f.read(limit + 1)[:limit], mode=stat.S_IMODE(a.st_mode) & 0o755)


def _parents(name):
    parts = name.split("/")[:-1]
    return ["/".join(parts[:i + 1]) for i in range(len(parts))]


def mkdir_p(sftp, d):
    parts = d.split("/")
    for i in range(1, len(parts) + 1):
        if parts[i - 1]:
            try:
                sftp.mkdir("/".join(parts[:i]), 0o700)
            except OSError:  # there already
                pass


class AgentHost:
    """What lab.guest.Guest needs of the thing its agent runs in (for a guest: the VM), for an SSH channel."""

    class _Console:
        reports = ()

        def fatal(self, settle=0):
            return None

        def reports_since(self, n):
            return []

        def tail_text(self):
            return ""

        def wait_eof(self, timeout):
            pass

    def __init__(self, target):
        self.target = target
        self.what = f"the agent's SSH channel to {target.ssh}"  # in Guest's errors, where a guest says QEMU
        self.console = self._Console()
        self.client = self.jump = self.chan = None
        self.rdir = None

    def connect(self):
        if self.client is None:
            self.client, self.jump = connect(self.target)
        return self.client

    def start(self, bin_files=None, env=None):
        """Connect, copy the agent (SFTP, into a directory named by its content; `bin_files` {name: bytes} join the
        tools on its PATH), start it on one channel (with `env` added to its environment)."""
        self.connect()
        blobs = {n: (GUEST_SOURCES / n).read_bytes() for n in AGENT_FILES}
        blobs.update({f"bin/{n}": (TOOLS_BIN / n).read_bytes() for n in TOOL_FILES if (TOOLS_BIN / n).exists()})
        blobs.update({f"bin/{n}": data for n, data in (bin_files or {}).items()})
        # a fresh directory only we can enter, each session: nothing a local user of the host planted is run
        rc, out, err = exec_sh(self.client, "umask 077; mktemp -d /tmp/dplab-agent.XXXXXXXXXX", timeout=60)
        rdir = out.strip()
        if rc != 0 or not re.fullmatch(r"/tmp/dplab-agent\.[A-Za-z0-9]{10}", rdir):
            raise TargetError(f"{self.target.ssh}: mktemp -d for the agent failed: {(err or out).strip()[-300:]}")
        self.rdir = private_dir(self.client, rdir)
        sftp = self.client.open_sftp()
        try:
            put_once(sftp, rdir, blobs, "fresh")
        finally:
            sftp.close()
        check = verify_cmd({f"{rdir}/{n}": hashlib.sha256(b).hexdigest() for n, b in blobs.items()})
        extra = " ".join(f"{k}={shlex.quote(str(v))}" for k, v in (env or {}).items())
        self.chan = self.client.get_transport().open_session()
        # DPLAB_AGENT_PID: the agent's own pid (exec keeps the shell's), whose namespace dplab-b connects from
        self.chan.exec_command(f"{check} && cd / && exec env PATH={rdir}/bin:{PATH} LANG=C.UTF-8 DPLAB_AGENT_PID=$$ "
                               f"{extra} {shlex.quote(self.target.python)} -u {rdir}/agent.py --stdio")
        self.chan.settimeout(0.2)
        return self.chan

    def alive(self):
        return self.chan is not None and not self.chan.exit_status_ready() and self.client.get_transport().is_active()

    def returncode(self):
        return self.chan.recv_exit_status() if self.chan is not None and self.chan.exit_status_ready() else None

    def kill(self):
        """The agent stopped answering: close its channel (sshd ends the session and the agent with it)."""
        if self.chan is not None:
            self.chan.close()

    def close(self):
        if self.rdir and self.client is not None and self.client.get_transport() is not None \
                and self.client.get_transport().is_active():
            try:
                exec_sh(self.client, f"rm -rf -- {shlex.quote(self.rdir)}", timeout=30)
            except (TargetError, OSError, EOFError):
                pass  # the host is gone: its private temp dir stays until it is cleaned there
        for c in (self.chan, self.client, self.jump):
            if c is not None:
                c.close()
