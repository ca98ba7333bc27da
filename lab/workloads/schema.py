"""A small schema checker for YAML documents (testcases, hosts files): types, ranges, defaults, and errors
that name the file, the line and the key (YNL's nlspec is the model: data in, schema check, small classes out)."""
import math
from dataclasses import dataclass

import yaml

from ..errors import ConfigError

SCALAR = (str, int, float, bool)
YAML_BOOL_TEXT = {"true", "false"}  # YAML 1.1 also reads on/off/yes/no/y/n as booleans: never by accident


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


def line_of(node_marks, path):
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
        raise ConfigError(f"{where}:{line_of(marks, path)}: {'.'.join(map(str, path)) or '(top)'}: {msg}")

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
        if isinstance(v, float) and not math.isfinite(v):
            err(path, f"{v} is not a finite number")
        if key.min is not None and v < key.min or key.max is not None and v > key.max:
            err(path, f"{v} is out of range; allowed {key.min}..{key.max}")
        if key.choices is not None and v not in key.choices:
            err(path, f"{v!r} is not one of {', '.join(map(str, key.choices))}")
        if key.items and isinstance(v, list):
            for i, item in enumerate(v):
                if isinstance(item, float) and not math.isfinite(item):
                    err(path + (i,), f"{item} is not a finite number")
                if not _is(item, key.items):
                    err(path + (i,), f"expected {_tname(key.items)}, got {type(item).__name__} {item!r}")
        if key.items and isinstance(v, dict):
            for ik, item in v.items():
                if isinstance(item, float) and not math.isfinite(item):
                    err(path + (ik,), f"{item} is not a finite number")
                if not _is(item, key.items):
                    err(path + (ik,), f"expected {_tname(key.items)}, got {type(item).__name__} {item!r}")
        out[k] = v
    return out


def compose(path, text):
    """(data, {key path: line}) of a YAML text; ConfigError with file:line on a syntax error."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{line}: YAML syntax error: {getattr(e, 'problem', e)}") from e
    check_booleans(node, path)
    return data, _marks(node)


def check_booleans(node, path, prefix=()):
    """Refuse a scalar YAML 1.1 reads as a boolean from text other than true/false (on, off, yes, no):
    `gso: [on, off]` would become True/False and render as 1/0."""
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            check_booleans(v, path, prefix + (k.value,))
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            check_booleans(v, path, prefix + (i,))
    elif isinstance(node, yaml.ScalarNode) and node.tag.endswith(":bool") and node.value.lower() not in YAML_BOOL_TEXT:
        where = ".".join(map(str, prefix)) or "(top)"
        raise ConfigError(f"{path}:{node.start_mark.line + 1}: {where}: {node.value!r} reads as a YAML boolean; "
                          f"write \"{node.value}\" (quoted) for the word, or true/false for a boolean")
