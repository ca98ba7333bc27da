"""Render testcase templates into guest shell scripts. Every `{{ value }}` is shell-quoted.

Values from YAML are data, never code: the environment's `finalize` quotes each expression's
result with shlex.quote. A template that needs a value unquoted says so: `{{ x | raw }}`;
`{{ list | args }}` quotes each element and joins them.
"""
import shlex
from pathlib import Path

import jinja2

LIB = (Path(__file__).resolve().parent / "lib.sh").read_text()


class Raw(str):
    """A string the template author marked as shell code (not quoted again)."""


def _finalize(value):
    if isinstance(value, Raw):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return str(value)
    return shlex.quote(str(value))


def _args(values):
    return Raw(" ".join(shlex.quote(str(v)) for v in values))


def environment():
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, finalize=_finalize, keep_trailing_newline=True,
                             autoescape=False)
    env.filters["raw"] = Raw
    env.filters["args"] = _args
    return env


def render(template_text, context, name="<template>"):
    """Render one template string; errors name the template."""
    try:
        body = environment().from_string(template_text).render(**context)
    except jinja2.TemplateError as e:
        from ..errors import ConfigError
        raise ConfigError(f"{name}: template error: {e}") from e
    return LIB + "\n" + body
