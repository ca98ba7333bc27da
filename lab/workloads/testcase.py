"""Testcase YAML: loaded safely, validated against a schema, turned into a dataclass.

Errors name the file, the line, the key and what is allowed (YNL's nlspec is the model: data in,
schema check, small classes out). Nothing runs before a testcase validates.
"""
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..errors import ConfigError
from ..vm.links import nic_model

SCALAR = (str, int, float, bool)


@dataclass(frozen=True)
class Key:
    type: tuple
    required: bool = False
    default: object = None
    min: float | None = None
    max: float | None = None
    choices: tuple | None = None
    items: tuple | None = None  # element types of a list / values of a mapping
    help: str = ""


def _parser_names():
    from ..metrics.parsers import PARSERS
    return tuple(PARSERS)


SCHEMA = {
    "name": Key((str,), required=True, help="short name, used in run ids"),
    "description": Key((str,), default=""),
    "links": Key((list,), default=("virtio", "e1000e"), items=(str,), help="NIC models to test, one link each"),
    "duration": Key((int, float), default=5, min=1, max=3600, help="seconds per measurement"),
    "repeat": Key((int,), default=1, min=1, max=100),
    "timeout": Key((int, float), default=None, min=5, max=7200, help="seconds per guest step (default 3*duration+60)"),
    "params": Key((dict,), default={}, items=SCALAR + (list,), help="template variables"),
    "axes": Key((dict,), default={}, items=(list,), help="name: [values]; cells are the cartesian product"),
    "exclude": Key((list,), default=(), items=(dict,), help="axis points to leave out: [{axis: value, ...}]"),
    "requires": Key((list,), default=(), items=(str,), help="host/guest tools the templates call"),
    "setup": Key((str,), default="", help="jinja2 shell, before counters"),
    "run": Key((str,), required=True, help="jinja2 shell, measured under perf stat"),
    "teardown": Key((str,), default=""),
    "collect": Key((str,), default="", help="jinja2 shell printing 'name value' lines: extra counters, before and after"),
    "parser": Key((str,), required=True, help="how the run step's stdout becomes the metric"),
    "metric": Key((dict,), required=True, help="{name, unit, higher_is_better}"),
    "perf": Key((dict,), default={}, help="{events: [...], hw_events: [...], kprobes: [...]}"),
    "kernels": Key((list,), default=(), items=(str,), help="kernels to run on when --kernel is not given"),
    "expect": Key((list,), default=(), items=(dict,), help="checks on each record: [{when: {...}, counter: NAME, min/max: N}]"),
    "reference": Key((dict,), default={}, help="published figures to show beside ours: {source, by, baseline, axis, ratios}"),
}
EXPECT_SCHEMA = {
    "when": Key((dict,), default={}, items=SCALAR, help="record fields that must match: nic_model, link, kernel, mode, or a param"),
    "counter": Key((str,), required=True, help="a derived or per-packet counter name, e.g. dplab:skb_store_bits/pkt"),
    "min": Key((int, float), default=None),
    "max": Key((int, float), default=None),
    "why": Key((str,), default=""),
}
REFERENCE_SCHEMA = {
    "source": Key((str,), required=True),
    "by": Key((str,), required=True, help="dimension of the ratio: kernel, link or an axis"),
    "baseline": Key((str,), required=True, help="the value of `by` in the denominator"),
    "axis": Key((str,), required=True, help="the axis the ratios are keyed by"),
    "ratios": Key((dict,), required=True, items=(int, float), help="{axis value: B/A ratio}"),
    "values": Key((dict,), default={}, help="{variant: {axis value: figure}} as published"),
}
METRIC_SCHEMA = {
    "name": Key((str,), required=True),
    "unit": Key((str,), required=True),
    "higher_is_better": Key((bool,), default=True),
}
PERF_SCHEMA = {
    "events": Key((list,), default=("cpu-clock", "context-switches", "net:net_dev_xmit", "net:netif_receive_skb",
                                    "skb:kfree_skb", "skb:consume_skb"), items=(str,)),
    "hw_events": Key((list,), default=("cycles", "instructions"), items=(str,), help="used only where the guest has a PMU"),
    "kprobes": Key((list,), default=(), items=(str,), help="kernel functions to count calls of (event dplab:<name>)"),
}


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
    parser: str
    metric: Metric
    perf_events: list = field(default_factory=list)
    hw_events: list = field(default_factory=list)
    kprobes: list = field(default_factory=list)
    kernels: list = field(default_factory=list)
    expect: list = field(default_factory=list)
    reference: dict = field(default_factory=dict)

    def cells(self):
        """Axis points in order (cartesian product of `axes`), each a dict of params."""
        names = list(self.axes)
        cells = [dict(zip(names, combo)) for combo in itertools.product(*(self.axes[n] for n in names))]
        return [c for c in cells if not any(all(str(c.get(k)) == str(v) for k, v in ex.items()) for ex in self.exclude)]


def _line(node_marks, path):
    return node_marks.get(path, node_marks.get(path[:-1], 1))


def _marks(node, prefix=(), out=None):
    """Line number (1-based) of every key path in a composed YAML node tree."""
    out = {} if out is None else out
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            p = prefix + (k.value,)
            out[p] = k.start_mark.line + 1
            _marks(v, p, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            out[prefix + (i,)] = v.start_mark.line + 1
            _marks(v, prefix + (i,), out)
    return out


def _tname(types):
    names = {str: "string", int: "integer", float: "number", bool: "boolean", list: "list", dict: "mapping"}
    return " or ".join(names[t] for t in types)


def _is(value, types):
    if isinstance(value, bool) and bool not in types:
        return False
    return isinstance(value, types)


def validate(data, schema, where, marks, prefix=()):
    """Check `data` against `schema`; return it with defaults filled. ConfigError names file:line and key."""
    def err(path, msg):
        raise ConfigError(f"{where}:{_line(marks, path)}: {'.'.join(map(str, path)) or '(top)'}: {msg}")

    if not isinstance(data, dict):
        err(prefix, f"expected a mapping, got {type(data).__name__}")
    for k in data:
        if k not in schema:
            err(prefix + (k,), f"unknown key; allowed: {', '.join(schema)}")
    out = {}
    for k, key in schema.items():
        path = prefix + (k,)
        if k not in data or data[k] is None:
            if key.required:
                err(prefix, f"missing required key '{k}' ({key.help or _tname(key.type)})")
            out[k] = list(key.default) if isinstance(key.default, tuple) else key.default
            continue
        v = data[k]
        if not _is(v, key.type):
            err(path, f"expected {_tname(key.type)}, got {type(v).__name__} {v!r}")
        if key.min is not None and v < key.min or key.max is not None and v > key.max:
            err(path, f"{v} is out of range; allowed {key.min}..{key.max}")
        if key.items and isinstance(v, list):
            for i, item in enumerate(v):
                if not _is(item, key.items):
                    err(path + (i,), f"expected {_tname(key.items)}, got {type(item).__name__} {item!r}")
        if key.items and isinstance(v, dict):
            for ik, item in v.items():
                if not _is(item, key.items):
                    err(path + (ik,), f"expected {_tname(key.items)}, got {type(item).__name__} {item!r}")
        out[k] = v
    return out


def load_testcase(path, text=None):
    """Load and validate a testcase file (or its `text`, as kept in a manifest); ConfigError with file:line."""
    path = Path(path)
    try:
        text = path.read_text() if text is None else text
    except OSError as e:
        raise ConfigError(f"{path}: cannot read testcase: {e.strerror}") from e
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{line}: YAML syntax error: {getattr(e, 'problem', e)}") from e
    marks = _marks(node)
    d = validate(data if data is not None else {}, SCHEMA, path, marks)
    metric = validate(d["metric"], METRIC_SCHEMA, path, marks, ("metric",))
    perf = validate(d["perf"], PERF_SCHEMA, path, marks, ("perf",))
    links = []
    for i, m in enumerate(d["links"]):
        try:
            links.append(nic_model(m))
        except ConfigError as e:
            raise ConfigError(f"{path}:{_line(marks, ('links', i))}: links.{i}: {e}") from None
    if d["parser"] not in _parser_names():
        raise ConfigError(f"{path}:{_line(marks, ('parser',))}: parser: unknown parser {d['parser']!r}; known: {', '.join(_parser_names())}")
    for name, values in d["axes"].items():
        if not values:
            raise ConfigError(f"{path}:{_line(marks, ('axes', name))}: axes.{name}: an axis needs at least one value")
        for i, v in enumerate(values):
            if not _is(v, SCALAR):
                raise ConfigError(f"{path}:{_line(marks, ('axes', name, i))}: axes.{name}.{i}: expected a scalar, got {type(v).__name__}")
        if name in d["params"]:
            raise ConfigError(f"{path}:{_line(marks, ('axes', name))}: axes.{name}: also defined in params; keep one")
    for i, ex in enumerate(d["exclude"]):
        for k in ex:
            if k not in d["axes"]:
                raise ConfigError(f"{path}:{_line(marks, ('exclude', i, k))}: exclude.{i}.{k}: not an axis; axes: {', '.join(d['axes'])}")
    expect = [validate(e, EXPECT_SCHEMA, path, marks, ("expect", i)) for i, e in enumerate(d["expect"])]
    for i, e in enumerate(expect):
        if e["min"] is None and e["max"] is None:
            raise ConfigError(f"{path}:{_line(marks, ('expect', i))}: expect.{i}: needs min or max")
    reference = validate(d["reference"], REFERENCE_SCHEMA, path, marks, ("reference",)) if d["reference"] else {}
    for i, k in enumerate(perf["kprobes"]):
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", k):
            raise ConfigError(f"{path}:{_line(marks, ('perf', 'kprobes', i))}: perf.kprobes.{i}: {k!r} is not a kernel symbol name")
    return Testcase(path=path, kprobes=perf["kprobes"], kernels=d["kernels"], expect=expect, reference=reference, text=text, name=d["name"], description=d["description"], links=links,
                    duration=d["duration"], repeat=d["repeat"], timeout=d["timeout"] or 3 * d["duration"] + 60,
                    params=d["params"], axes=d["axes"], exclude=d["exclude"], requires=d["requires"], setup=d["setup"], run=d["run"],
                    teardown=d["teardown"], collect=d["collect"], parser=d["parser"], metric=Metric(**metric),
                    perf_events=perf["events"], hw_events=perf["hw_events"])
