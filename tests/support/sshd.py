"""A real sshd for the SSH tests (tests/ssh/): in a network namespace of its own, its own keys and config, two
veth pairs standing in for cabled NIC ports."""
import os
import shutil
import socket
import subprocess
import time

import pytest

SSHD = "/usr/sbin/sshd"

HOST_IP, NS_IP, PORT = "198.18.250.1", "198.18.250.2", 2222

MARKS = [pytest.mark.slow,  # a real sshd and traffic over veth: not a unit test
              pytest.mark.skipif(not os.path.exists(SSHD) or os.geteuid() != 0, reason="needs root and openssh-server")]



def sh(*argv, **kw):
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw)



class Sshd:
    """sshd -D in netns `ns` on NS_IP:PORT (a veth to the host), its own keys and config; veth ports pa0/pb0.
    `n`: a second one (198.18.250.5/6, no ports of its own); `private_tmp`: its sessions see a /tmp of their own
    (another host's), its files then live under /var/tmp."""

    def __init__(self, tmp, n=0, private_tmp=False):
        self.tmp, self.ns = tmp, f"dlssh{n or ''}{os.getpid() % 100000}"
        self.veth = f"dls{n or ''}h{os.getpid() % 100000}"
        self.host_ip, self.ns_ip = f"198.18.250.{1 + 4 * n}", f"198.18.250.{2 + 4 * n}"
        self.n, self.private_tmp = n, private_tmp

    def start(self):
        t = self.tmp
        for name in ("host_key", "client_key", "other_key"):
            sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(t / name))
        shutil.copy(t / "client_key.pub", t / "authorized_keys")
        (t / "sshd_config").write_text(
            f"Port {PORT}\nListenAddress {self.ns_ip}\nHostKey {t}/host_key\nAuthorizedKeysFile {t}/authorized_keys\n"
            f"PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            f"UsePAM no\nStrictModes no\nPidFile {t}/sshd.pid\nSubsystem sftp internal-sftp\n")
        host_pub = (t / "host_key.pub").read_text().split()
        (t / "known_hosts").write_text(f"[{self.ns_ip}]:{PORT} {host_pub[0]} {host_pub[1]}\n")
        os.makedirs("/run/sshd", exist_ok=True)
        sh("ip", "netns", "add", self.ns)
        sh("ip", "link", "add", self.veth, "type", "veth", "peer", "name", "ssh0", "netns", self.ns)
        sh("ip", "addr", "add", f"{self.host_ip}/30", "dev", self.veth)
        sh("ip", "link", "set", self.veth, "up")
        for c in (f"addr add {self.ns_ip}/30 dev ssh0", "link set ssh0 up", "link set lo up",
                  *(() if self.n else ("link add pa0 type veth peer name pb0",))):
            sh("ip", "-n", self.ns, *c.split())
        return self.listen()

    def listen(self):
        t = self.tmp
        # nsenter, not `ip netns exec`: the host's mount namespace, as a host's sshd has (the namespaces the agent
        # makes outlive its session, as they would on a real host)
        argv = ["nsenter", f"--net=/run/netns/{self.ns}", SSHD, "-D", "-e", "-f", str(t / "sshd_config")]
        if self.private_tmp:
            argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                    'mount -t tmpfs tmp /tmp && exec "$@"', "sh", *argv]
        self.proc = subprocess.Popen(argv, stderr=open(t / "sshd.log", "a"))
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection((self.ns_ip, PORT), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"sshd did not start: {(t / 'sshd.log').read_text()}") from None
                time.sleep(0.1)
        return self

    def hosts(self, known_hosts="known_hosts", key="client_key", jump=False):
        f = self.tmp / f"hosts-{known_hosts}-{key}-{jump}.yaml"
        f.write_text(f"targets:\n  veth:\n    kind: hardware\n    ssh: ssh://root@{NS_IP}:{PORT}\n    key: {key}\n"
                     f"    known_hosts: {known_hosts}\n    ports: {{a: pa0, b: pb0}}\n"
                     + (f"    jump: ssh://root@{NS_IP}:{PORT}\n" if jump else ""))
        return f

    def target(self, **kw):
        from lab.remote.hosts import get_target
        return get_target(self.hosts(**kw), "veth")

    def kill_all(self):
        """sshd and every session it serves (the agent's channel with them)."""
        subprocess.run(["pkill", "-KILL", "-f", f"sshd.*{self.tmp}/sshd_config"], capture_output=True)
        subprocess.run(["pkill", "-KILL", "-f", "dplab-agent.*/agent.py --stdio"], capture_output=True)
        self.proc.wait()

    def stop(self):
        if getattr(self, "proc", None):
            self.proc.kill()
            self.proc.wait()
        subprocess.run(["ip", "link", "del", self.veth], capture_output=True)
        for ns in ("port0a", "port0b", self.ns):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)

