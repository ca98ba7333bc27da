"""Counter snapshots read inside the agent (stdlib only): no process per counter source.

The same sections `lab/metrics/counters.py` parses (`@@ <kind> <scope>` + text), read in-process: one thread
per network namespace enters it (setns applies to the calling thread) and reads ethtool statistics with the
ETHTOOL_GSTATS ioctl, link statistics as IFLA_STATS64 over rtnetlink (what `ip -s -j link` prints), and
/proc/thread-self/net/{snmp,netstat,snmp6,xfrm_stat} (the thread's namespace): no process spawns, which cost
over a second per snapshot under TCG (docs/measurements.md).
"""
import array
import ctypes
import fcntl
import json
import os
import socket
import struct
import threading
import time

CLONE_NEWNET = 0x40000000
SIOCETHTOOL = 0x8946
ETHTOOL_GSSET_INFO, ETHTOOL_GSTRINGS, ETHTOOL_GSTATS, ETH_SS_STATS = 0x37, 0x1b, 0x1d, 1
RTM_GETLINK, RTM_NEWLINK, NLM_F_REQUEST, NLMSG_ERROR, IFLA_STATS64 = 18, 16, 1, 2, 23
IFF_LOWER_UP = 0x10000
STATS64 = ["rx_packets", "tx_packets", "rx_bytes", "tx_bytes", "rx_errors", "tx_errors", "rx_dropped", "tx_dropped",
           "multicast", "collisions", "rx_length_errors", "rx_over_errors", "rx_crc_errors", "rx_frame_errors",
           "rx_fifo_errors", "rx_missed_errors", "tx_aborted_errors", "tx_carrier_errors", "tx_fifo_errors",
           "tx_heartbeat_errors", "tx_window_errors", "rx_compressed", "tx_compressed", "rx_nohandler"]
# `ip -j` names for the same fields (rx_/tx_ prefix dropped inside its rx/tx objects)
IP_NAMES = {"multicast": ("rx", "multicast"), "collisions": ("tx", "collisions")}


def _ethtool(sock, dev, cmd_buf):
    ifr = struct.pack("16sP", dev.encode(), cmd_buf.buffer_info()[0])
    fcntl.ioctl(sock.fileno(), SIOCETHTOOL, ifr)


def ethtool_stats(dev):
    """'name: value' lines, as `ethtool -S` prints them (empty if the driver has none)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        info = array.array("B", struct.pack("IIQI", ETHTOOL_GSSET_INFO, 0, 1 << ETH_SS_STATS, 0))
        _ethtool(s, dev, info)
        n = struct.unpack_from("IIQI", info)[3]
        if not n:
            return ""
        strings = array.array("B", struct.pack("III", ETHTOOL_GSTRINGS, ETH_SS_STATS, n) + b"\0" * (32 * n))
        _ethtool(s, dev, strings)
        stats = array.array("B", struct.pack("II", ETHTOOL_GSTATS, n) + b"\0" * (8 * n))
        _ethtool(s, dev, stats)
    except OSError:
        return ""
    finally:
        s.close()
    raw = strings.tobytes()[12:]
    names = [raw[i * 32:(i + 1) * 32].split(b"\0")[0].decode() for i in range(n)]
    values = struct.unpack_from(f"{n}Q", stats.tobytes(), 8)
    return "NIC statistics:\n" + "".join(f"     {k}: {v}\n" for k, v in zip(names, values))


def getlink(dev):
    """The RTM_NEWLINK answer for `dev` in this thread's namespace: (ifi_flags, message bytes)."""
    index = socket.if_nametoindex(dev)
    nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
    try:
        body = struct.pack("BxHiII", socket.AF_UNSPEC, 0, index, 0, 0)
        nl.send(struct.pack("IHHII", 16 + len(body), RTM_GETLINK, NLM_F_REQUEST, 1, 0) + body)
        data = nl.recv(65536)
    finally:
        nl.close()
    kind = struct.unpack_from("IH", data)[1]
    if kind != RTM_NEWLINK:
        raise OSError(f"rtnetlink answered type {kind} for {dev}")
    return struct.unpack_from("I", data, 16 + 8)[0], data


def link_stats(dev):
    """IFLA_STATS64 of `dev` as `ip -s -j link show` prints it: [{"ifname", "stats64": {"rx": {...}, "tx": {...}}}]."""
    data = getlink(dev)[1]
    length = struct.unpack_from("I", data)[0]
    off = 16 + 16
    while off + 4 <= length:
        alen, atype = struct.unpack_from("HH", data, off)
        if atype & 0x7fff == IFLA_STATS64:
            vals = struct.unpack_from(f"{min(len(STATS64), (alen - 4) // 8)}Q", data, off + 4)
            out = {"rx": {}, "tx": {}}
            for name, v in zip(STATS64, vals):
                side, key = IP_NAMES.get(name) or (name[:2], name[3:])
                out[side][key] = v
            return json.dumps([{"ifname": dev, "stats64": out}])
        off += (alen + 3) & ~3
    return "[]"


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def enter(ns):
    """Move this thread (only) into network namespace `ns`."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns into {ns}")
    finally:
        os.close(fd)


def sections(side, dev):
    """This thread's namespace's sections for `side`."""
    net = "/proc/thread-self/net"
    return "".join([f"@@ ethtool {side}\n", ethtool_stats(dev), f"@@ link {side}\n", link_stats(dev), "\n",
                    f"@@ snmp {side}\n", _read(f"{net}/snmp"), _read(f"{net}/netstat"), _read(f"{net}/snmp6"),
                    f"@@ xfrm {side}\n", _read(f"{net}/xfrm_stat")])


def in_namespaces(namespaces, fn):
    """fn(side, ns) in one thread per namespace; {side: result}, or RuntimeError naming every failure."""
    out, errors = {}, []

    def run(side, ns):
        try:
            enter(ns)
            out[side] = fn(side, ns)
        except Exception as e:  # reported to the host, which fails the cell with it
            errors.append(f"{side} ({ns}): {type(e).__name__}: {e}")

    threads = [threading.Thread(target=run, args=item) for item in namespaces.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError("; ".join(errors))
    return out


def wait_links(namespaces, dev="eth0", timeout=15.0, status="/run/dplab-links"):
    """Wait for stage 1's wiring (status.rc, its log in status.log; None: wired by the caller) and for carrier on
    `dev` in every namespace."""
    deadline = time.monotonic() + timeout
    rc = _read(f"{status}.rc").strip() if status else "0"
    if rc != "0":
        raise RuntimeError("link wiring "
                           f"{'failed (rc=' + rc + ')' if rc else 'did not run'}:\n{_read(status + '.log')[-1500:]}")

    def carrier(side, ns):
        while not getlink(dev)[0] & IFF_LOWER_UP:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no carrier on {dev} after {timeout:.0f} s")
            time.sleep(0.02)
        return True
    in_namespaces(namespaces, carrier)


def snapshot(namespaces, dev="eth0"):
    """Every section for the given {side: netns}: softnet, /proc/stat, then each side's counters."""
    out = in_namespaces(namespaces, lambda side, ns: sections(side, dev))
    stat = _read("/proc/stat").split("\n", 1)[0]
    return (f"@@ softnet -\n{_read('/proc/net/softnet_stat')}@@ stat -\n{stat}\n"
            + "".join(out[side] for side in namespaces))
