"""Run options, declared once: each with its flag, type, range and help. argparse (cli), the checks of RunOptions
(whatever built them: the command line, a resumed manifest, the pytest plugin) and the `lab run` argv a remote-lab
target gets are all made from this table."""
import argparse
import math
import re
from dataclasses import dataclass

from .errors import ConfigError
from .modes import DEFAULT, MODES

SIZE = re.compile(r"[1-9][0-9]{0,6}[MG]")


@dataclass(frozen=True)
class Opt:
    """One option: `dest` its RunOptions field, `kind` int | float | str | bool (--x/--no-x) | append (repeatable,
    one value each) | words (repeatable, split on spaces) | csv (comma-separated list) | axis (NAME=V1,V2,
    repeatable)."""
    dest: str
    flag: str
    kind: str
    help: str
    default: object = None
    min: float | None = None
    max: float | None = None
    choices: tuple | None = None
    pattern: re.Pattern | None = None
    metavar: str | None = None
    remote: bool = True  # passed on to the `lab run` of a remote-lab target

    def convert(self, text):
        """A command-line word as this option's value; argparse.ArgumentTypeError with the reason."""
        try:
            v = {"int": int, "float": float}.get(self.kind, str)(text)
        except ValueError:
            what = "an integer" if self.kind == "int" else "a number"
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        problem = self.problem(v)
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return v

    def problem(self, v):
        """Why `v` (one value) is not acceptable, or None."""
        if self.kind in ("int", "float"):
            wrong_type = isinstance(v, bool) or not isinstance(v, int if self.kind == "int" else (int, float))
            if wrong_type:
                return f"{v!r} is not {'an integer' if self.kind == 'int' else 'a number'}"
            if not math.isfinite(v):
                return f"{v} is not a finite number"
            if (self.min is not None and v < self.min) or (self.max is not None and v > self.max):
                return f"{v:g} is out of range {self.min:g}..{self.max:g}" if isinstance(v, float) else \
                    f"{v} is out of range {self.min:g}..{self.max:g}"
        if self.choices is not None and v not in self.choices:
            return f"{v!r} is not one of {', '.join(self.choices)}"
        if self.pattern is not None and isinstance(v, str) and not self.pattern.fullmatch(v):
            return f"{v!r} is not of the form {self.metavar or self.pattern.pattern}"
        return None


RUN_OPTIONS = (
    Opt("kernels", "--kernel", "append", "'debian' (default: Debian's linux-image-amd64), a bzImage/kernel dir, or a "
        "`lab build` name; repeat to compare kernels", default=(), remote=False, metavar="KERNEL"),
    Opt("source", "--source", "str", "build the kernels named by role (stock, a series under patches/, a kconfig "
        "fragment's name) from this source, not Debian's tarball: TREE@REV, a tarball, a tree, debian:6.12; records "
        "keep the role as the kernel's name and carry the commit", remote=False, metavar="SOURCE"),
    Opt("accel", "--accel", "str", "skip the KVM probe and use this accelerator", choices=("kvm", "tcg")),
    Opt("cpus", "--cpus", "int", "guest vCPUs (default 2)", default=2, min=1, max=64, metavar="N"),
    Opt("memory", "--memory", "str", "guest memory (default 2G)", default="2G", pattern=SIZE, metavar="N[MG]"),
    Opt("append", "--append", "words", "extra kernel command line (repeatable)", default=(), metavar="ARGS",
        pattern=re.compile(r"[^\x00-\x1f]+")),
    Opt("backend", "--backend", "str", "link backend (default tap as root: keeps virtio offloads)",
        choices=("tap", "hub")),
    Opt("boot_timeout", "--boot-timeout", "float", "seconds to wait for the guest agent (default 180)", default=180.0,
        min=5, max=3600, metavar="SECONDS"),
    Opt("runs_root", "--runs", "str", "directory for run directories (default ./runs)", default="runs", remote=False,
        metavar="DIR"),
    Opt("mode", "--mode", "str", "; ".join(f"{m.name}: {m.summary}" for m in MODES.values()), default=DEFAULT.name,
        choices=tuple(MODES)),
    Opt("profile", "--profile", "bool", "instructions per packet per kernel function (QEMU plugin; default: on in "
        "deterministic mode)"),
    Opt("cpu_model", "--cpu-model", "str", "QEMU -cpu (default: max under TCG, in both modes)",
        pattern=re.compile(r"[A-Za-z0-9_.+-]+(,[A-Za-z0-9_.+=-]+)*"), metavar="MODEL[,FLAG...]"),
    Opt("shard", "--shard", "str", "measure only shard I of N (every N-th cell); merge with lab report",
        pattern=re.compile(r"[1-9][0-9]*/[1-9][0-9]*"), metavar="I/N"),
    Opt("duration", "--duration", "float", "seconds per measurement (overrides the testcase's)", min=0.1, max=3600,
        metavar="SECONDS"),
    Opt("repeat", "--repeat", "int", "repeats per cell (overrides the testcase's)", min=1, max=1000, metavar="N"),
    Opt("rounds", "--rounds", "int", "boots per kernel, alternating kernels (default 2 with several kernels)", min=1,
        max=100,
        metavar="N"),
    Opt("links", "--links", "csv", "comma-separated NIC models instead of the testcase's links", default=(),
        pattern=re.compile(r"[a-z0-9_-]+"), metavar="MODEL,..."),
    Opt("axes", "--axis", "axis", "run only these values of an axis (repeatable), e.g. --axis size=64,1500",
        default=(), metavar="NAME=V1,V2"),
    Opt("jobs", "--jobs", "int", "guests measuring at once (default: the host's cores in a mode host load cannot "
        "move, deterministic; else 1): the plan's blocks, split when fewer, one guest each", min=1, max=64,
        metavar="N"),
    Opt("target", "--target", "append", "run on this target of the hosts file: hardware (its ports over SSH; --kernel "
                                        "by "
        "kexec where its entry allows) or remote-lab; repeated: one run on each in turn", default=(), remote=False,
        metavar="NAME"),
    Opt("hosts", "--hosts", "str", "hosts file for --target (default hosts/lab.yaml)", default="hosts/lab.yaml",
        remote=False,
        metavar="FILE"),
)
BY_DEST = {o.dest: o for o in RUN_OPTIONS}
BOOT_OPTIONS = ("kernels", "accel", "cpus", "memory", "append", "backend", "boot_timeout", "runs_root")


def add_options(parser, dests, single_kernel=False):
    """argparse arguments for the options `dests`, as declared."""
    for d in dests:
        o = BY_DEST[d]
        kw = {"help": o.help, "dest": o.dest}
        if o.metavar or o.choices:
            kw["metavar"] = o.metavar or "{" + ",".join(o.choices) + "}"
        if o.kind == "bool":
            parser.add_argument(o.flag, action=argparse.BooleanOptionalAction, default=None, **kw)
        elif o.kind in ("append", "words", "axis") and not (single_kernel and d == "kernels"):
            parser.add_argument(o.flag, action="append", default=[], type=str if o.kind == "axis" else o.convert, **kw)
        elif o.kind == "csv":
            parser.add_argument(o.flag, default="", **kw)
        else:
            default = None if (single_kernel and d == "kernels") else o.default
            parser.add_argument(o.flag, type=o.convert, default=default, **kw)


def from_args(a, dests):
    """{field: value} of parsed arguments, lists and dicts made as RunOptions holds them."""
    out = {}
    for d in dests:
        o, v = BY_DEST[d], getattr(a, d)
        if o.kind == "words":
            v = [w for s in v for w in s.split()]
        elif o.kind == "csv":
            v = [m for m in (v or "").split(",") if m]
        elif o.kind == "axis":
            v = dict(axis(x) for x in v)
        elif o.kind == "append" and isinstance(v, str):
            v = [v]
        out[d] = v
    return out


def axis(text):
    """'size=64,1500' -> ('size', ['64', '1500']): strings, typed later by the testcase's declared values."""
    name, sep, values = text.partition("=")
    if not sep or not name or not values:
        raise ConfigError(f"--axis {text!r}: expected NAME=V1,V2 (e.g. size=64,1500)")
    return name, values.split(",")


def check(values):
    """ConfigError naming the flag of the first value out of its declared type or range ({field: value})."""
    for d, v in values.items():
        o = BY_DEST.get(d)
        if o is None or v is None:
            continue
        items = v if o.kind in ("append", "words", "csv") else list(v) if o.kind == "axis" else [v]
        if o.kind in ("append", "words", "csv", "axis") and not isinstance(v, (list, tuple, dict)):
            raise ConfigError(f"{o.flag}: {v!r} is not a list")
        if o.kind == "bool":
            if not isinstance(v, bool):
                raise ConfigError(f"{o.flag}: {v!r} is not true or false")
            continue
        for item in items:
            problem = o.problem(item)
            if problem:
                raise ConfigError(f"{o.flag}: {problem}")


def remote_argv(values):
    """The `lab run` flags reproducing `values` on another machine (options marked remote=False stay here)."""
    out = []
    for o in RUN_OPTIONS:
        v = values.get(o.dest)
        if not o.remote or v is None or v == o.default or v in ([], {}, ()):
            continue
        if o.kind == "bool":
            out.append(o.flag if v else "--no-" + o.flag[2:])
        elif o.kind in ("append", "words"):
            for x in v:
                out += [o.flag, str(x)]
        elif o.kind == "csv":
            out += [o.flag, ",".join(map(str, v))]
        elif o.kind == "axis":
            for name, vals in v.items():
                out += [o.flag, f"{name}={','.join(map(str, vals))}"]
        else:
            out += [o.flag, str(v)]
    return out
