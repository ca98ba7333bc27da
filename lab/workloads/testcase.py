"""Testcase YAML: loaded safely, validated against a schema, turned into a dataclass.

Errors name the file, the line, the key and what is allowed (YNL's nlspec is the model: data in,
schema check, small classes out). Nothing runs before a testcase validates.
"""
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from ..match import matches
from ..modes import DEFAULT
from ..vm.links import nic_model
from .bymode import check_by_mode
from .kconfig import option_name
from .schema import SCALAR, Key, _is, compose, line_of, validate

# Names the lab gives meaning itself (template context, record fields, comparison dimensions): an axis or a
# param by one of these names would be confused with it (ipsec's old `mode` axis grouped transport with tunnel).
RESERVED = {"kernel", "kernel_id", "link", "links", "mode", "accel", "cpu", "cpu_model", "run", "cell", "cell_dir",
            "duration", "params", "nic_model", "status", "value", "metric", "unit", "repeat"}


SCHEMA = {
    "name": Key((str,), required=True, help="short name, used in run ids: letters, digits, _ . + -"),
    "description": Key((str,), default=""),
    "links": Key((list,), default=("virtio", "e1000e"), items=(str,), help="NIC models to test, one link each"),
    "duration": Key((int, float), default=5, min=1, max=3600, help="seconds per measurement"),
    "repeat": Key((int,), default=1, min=1, max=100),
    "timeout": Key((int, float), default=None, min=5, max=7200, help="seconds per guest step (default 3*duration+60)"),
    "params": Key((dict,), default={}, items=SCALAR + (list,), help="template variables"),
    "axes": Key((dict,), default={}, items=(list, dict),
                help="name: [values] or {values: [...], open: true}; cells are the cartesian product"),
    "exclude": Key((list,), default=(), items=(dict,), help="axis points to leave out: [{axis: value, ...}]"),
    "requires": Key((list,), default=(), items=(str,), help="host/guest tools the templates call"),
    "setup": Key((str,), default="", help="jinja2 shell, before counters"),
    "run": Key((str,), required=True, help="jinja2 shell, measured under perf stat"),
    "teardown": Key((str,), default=""),
    "collect": Key((str,), default="",
                   help="jinja2 shell printing 'name value' lines: extra counters, before and after"),
    "parser": Key((str, dict), required=True, help="how the run step's stdout becomes the metric: a parser, or "
                  "{measurement mode: parser} where a mode runs another tool"),
    "metric": Key((dict,), required=True, help="{name, unit, higher_is_better}"),
    "perf": Key((dict,), default={}, help="{events: [...], hw_events: [...], kprobes: [...]}"),
    "kernels": Key((list,), default=(), items=(str,), help="kernels to run on when --kernel is not given"),
    "expect": Key((list,), default=(), items=(dict,),
                  help="checks on each record: [{when: {...}, counter: NAME, min/max: N}]"),
    "loss": Key((dict,), default={}, help="where loss on the link is expected: {accounted_by: [counter, ...]} that "
                                          "must "
                "account for every packet lost (metrics/delivery.py); default: none may be lost"),
    "backend": Key((dict,), default={}, help="{measurement mode: link backend} where the testcase's question needs "
                   "no tap offloads and the hub's in-QEMU delivery is steadier (--backend still wins)"),
    "append": Key((dict,), default={}, help="{measurement mode: [kernel argument, ...]} its guests boot with"),
    "min_effect": Key((dict,), default={}, help="{measurement mode: percent}: the smallest change this testcase's "
                      "records support in that mode where it is above the mode's own (what host load still moves)"),
    "reference": Key((dict,), default={}, help="published figures to show beside ours: {source, by, baseline, axis, "
                                               "ratios}"),
    "kconfig": Key((list,), default=(), items=(dict,),
                   help="kernel options the cells need: [{when: {...}, need: [...], modules: [...]}]"),
}
KCONFIG_SCHEMA = {
    "when": Key((dict,), default={}, items=SCALAR, help="axis or param values the entry holds for (default: always)"),
    "need": Key((list,), required=True, items=(str,), help="kernel options, CONFIG_ prefix optional"),
    "modules": Key((list,), default=(), items=(str,), help="modules to load where an option is =m (modular kernels)"),
}
AXIS_SCHEMA = {
    "values": Key((list,), required=True, items=SCALAR, help="the axis' values, in order"),
    "open": Key((bool,), default=False, help="--axis may give values not listed (typed like the listed ones)"),
}
EXPECT_SCHEMA = {
    "when": Key((dict,), default={}, items=SCALAR,
                help="record fields that must match: nic_model, link, kernel, mode, or a param"),
    "counter": Key((str,), required=True, help="a derived or per-packet counter name, e.g. dplab:skb_store_bits/pkt"),
    "min": Key((int, float), default=None),
    "max": Key((int, float), default=None),
    "why": Key((str,), default=""),
}
REFERENCE_SCHEMA = {
    "source": Key((str,), required=True, help="who published the figures, measured how"),
    "variants": Key((dict,), required=True, items=(dict,),
                    help="{name: {patches: [series], kconfig: [fragment]}}: what each compared kernel is, by content"),
    "baseline": Key((str,), required=True, help="the variant in the denominator"),
    "context": Key((dict,), default={}, items=SCALAR,
                   help="record fields the figures hold for, e.g. {nic_model: virtio}"),
    "axis": Key((str,), required=True, help="the axis the ratios are keyed by"),
    "ratios": Key((dict,), required=True, items=(int, float), help="{axis value: B/A rate ratio}"),
    "values": Key((dict,), default={}, help="{variant: {axis value: figure}} as published"),
}
VARIANT_SCHEMA = {
    "patches": Key((list,), default=(), items=(str,), help="series names under patches/"),
    "kconfig": Key((list,), default=(), items=(str,), help="fragment names under kconfigs/ beyond the lab base"),
}
METRIC_SCHEMA = {
    "name": Key((str,), required=True),
    "unit": Key((str,), required=True),
    "higher_is_better": Key((bool,), default=True),
}
PERF_SCHEMA = {
    "events": Key((list,), default=("cpu-clock", "context-switches", "net:net_dev_xmit", "net:netif_receive_skb",
                                    "skb:kfree_skb", "skb:consume_skb"), items=(str,)),
    "hw_events": Key((list,), default=("cycles", "instructions"), items=(str,),
                     help="used only where the guest has a PMU"),
    "kprobes": Key((list,), default=(), items=(str,), help="kernel functions to count calls of (event dplab:<name>)"),
}


def step_timeout(duration):
    """Seconds a guest step may take when the testcase declares no `timeout:`."""
    return 3 * duration + 60


@dataclass
class Metric:
    name: str
    unit: str
    higher_is_better: bool = True


@dataclass
class Testcase:
    path: Path
    text: str
    name: str
    description: str
    links: list
    duration: float
    repeat: int
    timeout: float
    params: dict
    axes: dict
    exclude: list
    requires: list
    setup: str
    run: str
    teardown: str
    collect: str
    parser: str | dict  # a parser name, or {mode name: parser name} (parser_for)
    metric: Metric
    perf_events: list = field(default_factory=list)
    hw_events: list = field(default_factory=list)
    kprobes: list = field(default_factory=list)
    kernels: list = field(default_factory=list)
    expect: list = field(default_factory=list)
    reference: dict = field(default_factory=dict)
    kconfig: list = field(default_factory=list)  # validated `kconfig:` entries (workloads/kconfig.py)
    loss: dict = field(default_factory=dict)  # {accounted_by: [...]} (metrics/delivery.py)
    min_effect: dict = field(default_factory=dict)  # {mode: percent} above the mode's own (results/compare.py)
    backend: dict = field(default_factory=dict)  # {mode: link backend} (lab/vm/links.py BACKENDS)
    append: dict = field(default_factory=dict)   # {mode: [kernel argument, ...]}
    declared_timeout: float | None = None  # the file's own `timeout:` (kept whatever --duration says)
    declared_axes: dict = field(default_factory=dict)  # the file's axes (tc.axes may be narrowed by --axis)
    open_axes: set = field(default_factory=set)

    def parser_for(self, mode):
        """The parser of the run step's output in measurement mode `mode` (a name)."""
        if isinstance(self.parser, dict):
            return self.parser.get(mode, self.parser[DEFAULT.name])
        return self.parser

    def boot_for(self, mode):
        """What this testcase asks of its guests in measurement mode `mode` (a name): the link backend (None: the
        default) and kernel arguments."""
        return self.backend.get(mode), list(self.append.get(mode, []))

    def axis_values(self, axis, given):
        """Command-line values of `axis` matched to the declared values and their type: `--axis gso=on` is the
        string "on" the testcase lists, never YAML's True. An unknown value is refused unless the axis is open."""
        if axis not in self.declared_axes:
            raise ConfigError(f"--axis {axis}: {self.path} has axes {', '.join(self.declared_axes) or '(none)'}")
        declared = self.declared_axes[axis]
        out = []
        for v in given:
            match = [d for d in declared if d == v and type(d) is type(v)] or [d for d in declared if str(d) == str(v)]
            if match:
                out.append(match[0])
            elif axis in self.open_axes:
                out.append(_typed_like(declared, v, axis))
            else:
                raise ConfigError(f"--axis {axis}={v}: not a value of axis {axis} in {self.path}; allowed: "
                                  f"{', '.join(map(str, declared))} (an axis declared `open: true` takes others)")
        return out

    def cells(self):
        """Axis points in order (cartesian product of `axes`), each a dict of params."""
        names = list(self.axes)
        cells = [dict(zip(names, combo)) for combo in itertools.product(*(self.axes[n] for n in names))]
        return [c for c in cells if not any(matches(c, ex) for ex in self.exclude)]


def _typed_like(declared, v, axis):
    """`v` converted to the type all declared values share (int, float or str)."""
    types = {type(d) for d in declared}
    for t in (int, float):
        if types == {t} or (t is float and types <= {int, float}):
            try:
                return t(v)
            except (TypeError, ValueError):
                raise ConfigError(f"--axis {axis}={v}: axis {axis} takes {t.__name__} values "
                                  f"(declared: {', '.join(map(str, declared))})") from None
    return str(v)


def _axes(d, path, marks):
    """({name: [values]}, open axis names) from `axes`, each value a scalar, no name the lab reserves."""
    axes, open_axes = {}, set()
    for name, spec in d["axes"].items():
        where = f"{path}:{line_of(marks, ('axes', name))}: axes.{name}"
        if name in RESERVED:
            raise ConfigError(f"{where}: '{name}' is a name the lab uses itself ({', '.join(sorted(RESERVED))}); "
                              "rename the axis")
        if isinstance(spec, dict):
            spec = validate(spec, AXIS_SCHEMA, path, marks, ("axes", name))
            if spec["open"]:
                open_axes.add(name)
            spec = spec["values"]
        if not spec:
            raise ConfigError(f"{where}: an axis needs at least one value")
        for i, v in enumerate(spec):
            if not _is(v, SCALAR):
                raise ConfigError(f"{path}:{line_of(marks, ('axes', name, i))}: axes.{name}.{i}: expected a scalar, "
                                  f"got {type(v).__name__}")
        if name in d["params"]:
            raise ConfigError(f"{where}: also defined in params; keep one")
        axes[name] = list(spec)
    for name in d["params"]:
        if name in RESERVED:
            raise ConfigError(f"{path}:{line_of(marks, ('params', name))}: params.{name}: '{name}' is a name the lab "
                              "uses "
                              f"itself ({', '.join(sorted(RESERVED))}); rename the param")
    return axes, open_axes


def load_testcase(path, text=None):
    """Load and validate a testcase file (or its `text`, as kept in a manifest); ConfigError with file:line."""
    path = Path(path)
    try:
        text = path.read_text() if text is None else text
    except OSError as e:
        raise ConfigError(f"{path}: cannot read testcase: {e.strerror}") from e
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text (byte {e.start}): a testcase is a YAML text file") from None
    data, marks = compose(path, text)
    d = validate(data if data is not None else {}, SCHEMA, path, marks)
    if not re.fullmatch(r"[A-Za-z0-9_+-][A-Za-z0-9_.+-]{0,63}", d["name"]):
        raise ConfigError(f"{path}:{line_of(marks, ('name',))}: name: {d['name']!r}: 1-64 of letters, digits, _ . + - "
                          f"(it names run directories and QEMU guests)")
    metric = validate(d["metric"], METRIC_SCHEMA, path, marks, ("metric",))
    loss = validate(d["loss"], {"accounted_by": Key((list,), required=True, items=(str,)),
                                "receiver_down_in": Key((list,), items=(str,), help="modes in which setup takes "
                                                        "the receiver down: delivery is not checked there")},
                    path, marks, ("loss",)) \
        if d["loss"] else {}
    perf = validate(d["perf"], PERF_SCHEMA, path, marks, ("perf",))
    links = []
    for i, m in enumerate(d["links"]):
        try:
            links.append(nic_model(m))
        except ConfigError as e:
            raise ConfigError(f"{path}:{line_of(marks, ('links', i))}: links.{i}: {e}") from None
    check_by_mode(d, path, marks)
    axes, open_axes = _axes(d, path, marks)
    for i, ex in enumerate(d["exclude"]):
        for k in ex:
            if k not in axes:
                raise ConfigError(f"{path}:{line_of(marks, ('exclude', i, k))}: exclude.{i}.{k}: not an axis; axes: "
                                  f"{', '.join(d['axes'])}")
    expect = [validate(e, EXPECT_SCHEMA, path, marks, ("expect", i)) for i, e in enumerate(d["expect"])]
    for i, e in enumerate(expect):
        if e["min"] is None and e["max"] is None:
            raise ConfigError(f"{path}:{line_of(marks, ('expect', i))}: expect.{i}: needs min or max")
    reference = validate(d["reference"], REFERENCE_SCHEMA, path, marks, ("reference",)) if d["reference"] else {}
    for name, spec in reference.get("variants", {}).items():
        reference["variants"][name] = validate(spec, VARIANT_SCHEMA, path, marks, ("reference", "variants", name))
    if reference and reference["baseline"] not in reference["variants"]:
        raise ConfigError(f"{path}:{line_of(marks, ('reference', 'baseline'))}: reference.baseline: "
                          f"{reference['baseline']!r} is not one of the variants ({', '.join(reference['variants'])})")
    kconfig = []
    for i, e in enumerate(d["kconfig"]):
        e = validate(e, KCONFIG_SCHEMA, path, marks, ("kconfig", i))
        where = f"{path}:{line_of(marks, ('kconfig', i))}: kconfig.{i}"
        for k in e["when"]:
            if k not in axes and k not in d["params"]:
                raise ConfigError(f"{where}.when.{k}: not an axis or param; axes: {', '.join(axes) or '(none)'}")
        kconfig.append(dict(e, need=[option_name(o, f"{where}.need") for o in e["need"]]))
    for i, k in enumerate(perf["kprobes"]):
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", k):
            raise ConfigError(f"{path}:{line_of(marks, ('perf', 'kprobes', i))}: perf.kprobes.{i}: {k!r} is not a "
                              "kernel symbol name")
    return Testcase(path=path, kconfig=kconfig, loss=loss, min_effect=d["min_effect"], backend=d["backend"],
                    append=d["append"],
                    kprobes=perf["kprobes"], kernels=d["kernels"], expect=expect, reference=reference, text=text,
                    name=d["name"], description=d["description"], links=links,
                    duration=d["duration"], repeat=d["repeat"], timeout=d["timeout"] or step_timeout(d["duration"]),
                    declared_timeout=d["timeout"],
                    params=d["params"], axes=axes, declared_axes={k: list(v) for k, v in axes.items()},
                    open_axes=open_axes,
                    exclude=d["exclude"], requires=d["requires"], setup=d["setup"], run=d["run"],
                    teardown=d["teardown"], collect=d["collect"], parser=d["parser"], metric=Metric(**metric),
                    perf_events=perf["events"], hw_events=perf["hw_events"])
