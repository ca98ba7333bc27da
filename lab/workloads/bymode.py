"""The testcase keys whose values differ by measurement mode (`parser`, `min_effect`, `backend`, `append`): checked
here, each entry naming a mode of lab/modes.py."""
import re

from ..errors import ConfigError
from ..modes import DEFAULT, MODES
from ..vm.links import BACKENDS
from .schema import line_of


def parser_names():
    from ..metrics.parsers import PARSERS
    return tuple(PARSERS)


def check_by_mode(d, path, marks):
    """`parser`: a parser, or {mode: parser} naming the default mode's too; `min_effect`: {mode: percent};
    `backend`: {mode: link backend}; `append`: {mode: [kernel argument]}, each one word of printable ASCII."""
    for mode, parser in (d["parser"].items() if isinstance(d["parser"], dict) else [(None, d["parser"])]):
        where = f"{path}:{line_of(marks, ('parser',) + ((mode,) if mode else ()))}: parser{'.' + mode if mode else ''}"
        if mode is not None and mode not in MODES:
            raise ConfigError(f"{where}: unknown measurement mode {mode!r}; known: {', '.join(MODES)}")
        if parser not in parser_names():
            raise ConfigError(f"{where}: unknown parser {parser!r}; known: {', '.join(parser_names())}")
    if isinstance(d["parser"], dict) and DEFAULT.name not in d["parser"]:
        raise ConfigError(f"{path}:{line_of(marks, ('parser',))}: parser: a mapping names the {DEFAULT.name} "
                          f"mode's parser too")
    for mode, pct in d["min_effect"].items():
        if mode not in MODES or isinstance(pct, bool) or not isinstance(pct, (int, float)) or not 0 < pct < 100:
            raise ConfigError(f"{path}:{line_of(marks, ('min_effect', mode))}: min_effect.{mode}: expected a known "
                              f"mode ({', '.join(MODES)}) and a percent between 0 and 100, got {pct!r}")
    for mode, backend in d["backend"].items():
        if mode not in MODES or backend not in BACKENDS:
            raise ConfigError(f"{path}:{line_of(marks, ('backend', mode))}: backend.{mode}: expected a known mode "
                              f"({', '.join(MODES)}) and a link backend ({', '.join(BACKENDS)}), got {backend!r}")
    for mode, args in d["append"].items():
        if mode not in MODES or not isinstance(args, list) or not all(
                isinstance(a, str) and re.fullmatch(r"[!-~]+", a) for a in args):
            raise ConfigError(f"{path}:{line_of(marks, ('append', mode))}: append.{mode}: expected a known mode "
                              f"({', '.join(MODES)}) and a list of kernel arguments (one word each), got {args!r}")
