"""The host's side of the guest channel (lab/guest/guest.py): what a command's timeout means inside the guest."""
import json
import socket
import threading

from lab.guest.guest import Guest
from lab.modes import DETERMINISTIC, WALLCLOCK


class Console:
    reports = []

    def fatal(self, settle=None):
        return None

    def reports_since(self, n):
        return []

    def tail_text(self):
        return ""


class VM:
    console = Console()

    def alive(self):
        return True


def agent_sees(timeout_scale, timeout):
    """The request a fake agent receives for `run(["true"], timeout)`; it answers at once."""
    host, agent = socket.socketpair()
    host.settimeout(0.2)
    seen = []

    def serve():
        req = json.loads(agent.makefile().readline())
        seen.append(req)
        agent.sendall((json.dumps({"id": req["id"], "rc": 0, "stdout": "", "stderr": "", "elapsed": 0.1}) +
                       "\n").encode())

    t = threading.Thread(target=serve)
    t.start()
    g = Guest("unused", VM(), timeout_scale=timeout_scale)
    g.sock = host
    assert g.run(["true"], timeout=timeout).rc == 0
    t.join()
    return seen[0]


def test_where_idle_guest_time_runs_ahead_a_guest_side_timeout_is_scaled_and_the_host_deadline_bounds_it():
    """Deterministic mode (icount sleep=off): 280 s of guest time passed in 1.8 s of host time while `perf stat`
    waited on a 9p read under load; the agent's timer must not fire on that, so it gets 1000x the host seconds."""
    assert WALLCLOCK.guest_timeout_scale == 1.0 and DETERMINISTIC.guest_timeout_scale == 1000.0
    assert agent_sees(WALLCLOCK.guest_timeout_scale, 60)["timeout"] == 60
    assert agent_sees(DETERMINISTIC.guest_timeout_scale, 60)["timeout"] == 60_000
    assert "guest_timeout_scale" in DETERMINISTIC.describe()  # the manifest says which it was


def test_qemu_killed_while_the_host_reads_fails_the_command_not_the_run():
    """A CI run's QEMU, killed by the faults test mid-cell, reset the channel under a read: ConnectionResetError
    went up to `lab run` ("lab: error: [Errno 104]") instead of failing the cell for a retry on the next boot."""
    import pytest

    from lab.errors import GuestError

    class ResetSock:
        def sendall(self, data):
            pass

        def recv(self, n):
            raise ConnectionResetError(104, "Connection reset by peer")

    class DeadConsole(Console):
        def wait_eof(self, wait):
            pass

    class DeadVM:
        console = DeadConsole()

        def alive(self):
            return False

        def returncode(self):
            return -9

    g = Guest("unused", DeadVM())
    g.sock = ResetSock()
    with pytest.raises(GuestError, match=r"QEMU exited \(rc=-9\) while running true"):
        g.run(["true"], timeout=5)
    class LiveVM(VM):
        console = DeadConsole()

    g.vm = LiveVM()  # QEMU still up (2 s to be reaped, then said as it is), its end of the channel reset
    with pytest.raises(GuestError, match=r"control channel closed \(Connection reset by peer\) while running true"):
        g.run(["true"], timeout=5)
