"""Instructions per packet per kernel function, from the instruction profiler (tools/insn_plugin.c).

The plugin writes, for each window the workload marks (its measured loop), every translation block that
ran: address, executions and the offset of each instruction. Each instruction is attributed to the
function holding its address in the guest's /proc/kallsyms (real addresses, KASLR or not); user-space
addresses count as "[user]", kernel addresses outside any text symbol as "[kernel]". Pure functions.
"""
import bisect
from dataclasses import dataclass, field

USER, KERNEL = "[user]", "[kernel]"
KERNEL_BASE = 0xffff800000000000
# what a window's instructions are counted per: the run step's JSON key holding the count -> (word, short unit).
# The first key present wins; a TSO superpacket is not a packet, so a TCP transfer counts KiB of payload
UNITS = {"packets": ("packet", "pkt"), "datagrams": ("datagram", "dgram"), "kibibytes": ("KiB of payload", "KiB")}


def window_unit(value):
    """(key, count) of the run step's JSON value that a window is counted per; (None, None) without one."""
    for key in UNITS:
        n = value.get(key)
        if isinstance(n, (int, float)) and not isinstance(n, bool) and n > 0:
            return key, n
    return None, None


@dataclass
class Window:
    index: int
    total: int                                # instructions executed in the window
    blocks: list = field(default_factory=list)  # (vaddr, executions, [instruction offsets])


def parse_windows(text):
    """Windows in a plugin output text (only complete ones: a window still being written is left)."""
    out, cur = [], None
    for line in text.splitlines():
        if line.startswith("W "):
            _, idx, total = line.split()
            cur = Window(int(idx), int(total))
        elif line == "E" and cur is not None:
            out.append(cur)
            cur = None
        elif cur is not None and line:
            f = line.split()
            cur.blocks.append((int(f[0], 16), int(f[2], 16), [int(x, 16) for x in f[3:]]))
    return out


class Symbols:
    """Text symbols of a guest kernel, from /proc/kallsyms: address -> function."""

    def __init__(self, kallsyms):
        syms = []
        for line in kallsyms.splitlines():
            f = line.split()
            if len(f) >= 3 and f[1] in "tTwW" and int(f[0], 16):
                syms.append((int(f[0], 16), f[2]))
        syms.sort()
        self.addrs = [a for a, _ in syms]
        self.names = [n for _, n in syms]
        self.text_end = max(self.addrs) + (1 << 20) if self.addrs else 0  # the last symbol's body, generously

    def __bool__(self):
        return bool(self.addrs)

    def function(self, addr):
        if addr < KERNEL_BASE:
            return USER
        i = bisect.bisect_right(self.addrs, addr) - 1
        if i < 0 or addr > self.text_end:
            return KERNEL
        return self.names[i]


def attribute(window, symbols):
    """{function: instructions} of one window (every instruction of every block that ran)."""
    out, cache = {}, {}
    for vaddr, count, offs in window.blocks:
        for off in offs:
            a = vaddr + off
            fn = cache.get(a)
            if fn is None:
                fn = cache[a] = symbols.function(a)
            out[fn] = out.get(fn, 0) + count
    return out


def per_packet(counts, packets, floor=0.05):
    """{function: instructions per packet}, functions under `floor` folded into "(other)"; the values sum to the
    window's instructions per packet."""
    if not packets:
        return {}
    per = {fn: n / packets for fn, n in counts.items()}
    out = {fn: round(v, 3) for fn, v in per.items() if v >= floor}
    rest = sum(v for fn, v in per.items() if v < floor)
    if rest:
        out["(other)"] = round(rest, 3)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def split_history(profile, history):
    """(the window's instructions per packet without the `history` functions, theirs): state from before the
    window (modes.py) kept out of the headline."""
    slow = sum(profile["functions"].get(f, 0.0) for f in history)
    return profile["window_insns"] / profile["packets"] - slow, slow


def window_counts(profile, history):
    """Derived values of a profile: "insn/pkt" and "slab-slow insn/pkt" (split_history)."""
    if not profile.get("packets"):
        return {}
    headline, slow = split_history(profile, history)
    return {"insn/pkt": round(headline, 3), "slab-slow insn/pkt": round(slow, 3)}
