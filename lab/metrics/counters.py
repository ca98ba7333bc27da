"""Counter snapshots taken in the guest before and after a measurement, parsed on the host.

The guest agent prints sections `@@ <kind> <scope>` followed by raw text in the formats of ethtool -S,
ip -s -j link, /proc/net/{snmp,netstat,snmp6,xfrm_stat}, /proc/net/softnet_stat and /proc/stat
(lab/guest/snap.py); a testcase's `collect` lines follow. Parsing is pure and unit-tested.
Keys are flat: `<side>.<kind>.<name>` (side a = sender namespace, b = receiver), `softnet.<name>`
(summed over CPUs) or `stat.<name>` (guest CPU time in USER_HZ ticks).
"""
import json

# net/core/net-procfs.c softnet_seq_show (6.1): 6 zero columns, then rps, flow limit; backlog and CPU index last.
SOFTNET_COLS = ["processed", "dropped", "time_squeeze", None, None, None, None, None, None,
                "received_rps", "flow_limit_count"]


def collect_script(collect):
    """The testcase's own `collect` lines as one more section (the rest is read by the agent: guest/snap.py)."""
    return f"echo '@@ collect x'\n{collect}"


def parse_pairs(text):
    """'name value' lines (xfrm_stat, a testcase's collect step)."""
    out = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) == 2 and f[1].lstrip("-").isdigit():
            out[f[0]] = int(f[1])
    return out


def parse_ethtool(text):
    out = {}
    for line in text.splitlines():
        name, sep, val = line.strip().rpartition(":")
        if sep and name and val.strip().lstrip("-").isdigit():
            out[name.strip()] = int(val)
    return out


def parse_link_json(text):
    try:
        data = json.loads(text)[0]
    except (ValueError, IndexError):
        return {}
    s = data.get("stats64", {})
    out = {f"rx_{k}": v for k, v in s.get("rx", {}).items() if isinstance(v, int)}
    out.update({f"tx_{k}": v for k, v in s.get("tx", {}).items() if isinstance(v, int)})
    return out


def parse_snmp(text):
    """/proc/net/snmp + netstat (header/value line pairs) and snmp6 (name value): nstat-style names."""
    out = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        parts = line.split()
        if parts and parts[0].endswith(":") and i + 1 < len(lines) and lines[i + 1].split()[:1] == parts[:1]:
            prefix = parts[0].rstrip(":")
            for k, v in zip(parts[1:], lines[i + 1].split()[1:]):
                if v.lstrip("-").isdigit():
                    out[prefix + k] = int(v)
            i += 2
            continue
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            out[parts[0]] = int(parts[1])
        i += 1
    return out


def parse_softnet(text):
    """Sum of /proc/net/softnet_stat columns over CPUs (hex)."""
    out = {}
    for line in text.split("\n"):
        for col, val in zip(SOFTNET_COLS, line.split()):
            if col:
                out[col] = out.get(col, 0) + int(val, 16)
    return out


STAT_COLS = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"]


def parse_stat(text):
    """The aggregate `cpu` line of /proc/stat, in USER_HZ ticks (1/100 s)."""
    for line in text.splitlines():
        f = line.split()
        if f and f[0] == "cpu":
            return {c: int(v) for c, v in zip(STAT_COLS, f[1:])}
    return {}


PARSE = {"stat": parse_stat, "xfrm": parse_pairs, "collect": parse_pairs, "ethtool": parse_ethtool,
         "link": parse_link_json, "snmp": parse_snmp, "softnet": parse_softnet}


def parse_snapshot(text):
    out = {}
    kind, scope, buf = None, None, []

    def flush():
        if kind:
            prefix = kind if kind in ("softnet", "stat") else f"{scope}.{kind}"
            for k, v in PARSE[kind]("\n".join(buf)).items():
                out[f"{prefix}.{k}"] = v

    for line in text.splitlines():
        if line.startswith("@@ "):
            flush()
            _, kind, scope = line.split(None, 2)
            buf = []
        else:
            buf.append(line)
    flush()
    return out


def delta(pre, post):
    """post - pre for every numeric key present in both (counters only grow; gauges may go negative).
    A testcase's collect value seen only after the run (e.g. a sink's own count) is taken as is."""
    return {k: post[k] - pre.get(k, 0) for k in post
            if (k in pre or k.startswith("x.collect.")) and isinstance(post[k], (int, float))}
