"""Render testcase templates into guest shell scripts. Values reach a script as variables, never as its text.

Every `{{ expression }}` renders as a reference to a shell variable, and the script begins with
`export _dl1='...' _dl2='...'`: the values are quoted by shlex.quote in one context only, a top-level
assignment, where that quoting is exact. Inside double quotes, a heredoc, `$(( ))` or a nested
`sh -c '...'`, the reference is expanded by whichever shell reads it, and an expanded value is never
parsed as code again: `$(touch F)`, backquotes, quotes and newlines stay data whatever surrounds the
expression. The reference's own form follows its context (`"${_dl1}"` unquoted, `${_dl1}` inside double
quotes), so a value with spaces stays one word. `{{ list | args }}` gives one reference per element.
Jinja control flow (`{% if params.gso == "on" %}`) compares values in Python and emits no value at all.
"""
import re
import shlex
from pathlib import Path

import jinja2

from ..errors import ConfigError

LIB = (Path(__file__).resolve().parent / "lib.sh").read_text()
MARK = "\x00"
VAR = "_dl"


class Args(list):
    """A list that renders as one variable reference per element."""


def _text(value):
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


class Values:
    """The values of one render, each bound to a variable name (equal values share one)."""

    def __init__(self):
        self.names = {}

    def mark(self, value):
        if isinstance(value, Args):
            return " ".join(self.mark(v) for v in value)
        n = self.names.setdefault(_text(value), len(self.names) + 1)
        return f"{MARK}{n}{MARK}"

    def header(self, used):
        by_n = {n: text for text, n in self.names.items()}
        return "export " + " ".join(f"{VAR}{n}={shlex.quote(by_n[n])}" for n in sorted(used)) + "\n" if used else ""


HEREDOC = re.compile(r"<<(-?)[ \t]*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")
EXPANDED = ("dq", "arith", "comment")  # contexts where a bare ${var} is already one word


def _ref(n, state):
    return f"${{{VAR}{n}}}" if state in EXPANDED else f'"${{{VAR}{n}}}"'


def _marks_to_refs(line, used, quoted, name):
    """A heredoc body line: its marks become bare references (a heredoc expands them, without splitting)."""
    def sub(m):
        if quoted:
            raise ConfigError(f"{name}: a value inside a quoted heredoc (<<'EOF') is never expanded; unquote the "
                              "delimiter")
        used.add(int(m.group(1)))
        return f"${{{VAR}{m.group(1)}}}"
    return re.sub(f"{MARK}(\\d+){MARK}", sub, line)


def _heredoc_bodies(text, i, pending, used, name):
    """Copy the bodies of the pending heredocs starting at text[i]; returns (copied text, index after)."""
    out = []
    for quoted, strip, delim in pending:
        while i < len(text):
            end = text.find("\n", i)
            end = len(text) if end < 0 else end + 1
            line = text[i:end]
            i = end
            if (line.lstrip("\t") if strip else line).rstrip("\n") == delim:
                out.append(line)
                break
            out.append(_marks_to_refs(line, used, quoted, name))
    return "".join(out), i


def place(text, used, name="<template>"):
    """Replace each value mark by a reference fit for its shell context. Single-quoted text is read as the
    script an inner shell will parse (`sh -c '...'`); a heredoc's body takes bare references."""
    out, stack, i, pending = [], ["sh"], 0, []
    while i < len(text):
        c, st = text[i], stack[-1]
        if c == MARK:
            j = text.index(MARK, i + 1)
            n = int(text[i + 1:j])
            used.add(n)
            out.append(_ref(n, st))
            i = j + 1
            continue
        if st == "comment":
            if c == "\n":
                stack.pop()
                continue
        elif c == "\\":
            out.append(text[i:i + 2])
            i += 2
            continue
        elif st == "arith":
            if text.startswith("))", i):
                stack.pop()
                out.append("))")
                i += 2
                continue
        elif text.startswith("$((", i):
            stack.append("arith")
            out.append("$((")
            i += 3
            continue
        elif text.startswith("$(", i):
            stack.append("sub")
            out.append("$(")
            i += 2
            continue
        elif c == "`":
            stack.pop() if st == "bq" else stack.append("bq")
        elif st == "dq":
            if c == '"':
                stack.pop()
        elif c == "'":
            j = text.find("'", i + 1)
            j = len(text) if j < 0 else j
            out.append("'" + place(text[i + 1:j], used, name) + "'")
            i = j + 1
            continue
        elif c == '"':
            stack.append("dq")
        elif c == "(":
            stack.append("sub")
        elif c == ")" and st == "sub":
            stack.pop()
        elif c == "#" and (i == 0 or text[i - 1] in " \t\n;|&("):
            stack.append("comment")
        elif c == "<" and (m := HEREDOC.match(text, i)):
            pending.append((bool(m.group(2)), bool(m.group(1)), m.group(3)))
            out.append(m.group(0))
            i = m.end()
            continue
        elif c == "\n" and pending:
            body, i = _heredoc_bodies(text, i + 1, pending, used, name)
            out.append("\n" + body)
            pending = []
            continue
        out.append(c)
        i += 1
    return "".join(out)


def environment(values):
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, finalize=values.mark, keep_trailing_newline=True,
                             autoescape=False)
    env.filters["args"] = Args
    return env


def render(template_text, context, name="<template>"):
    """Render one template string into a script (library + value assignments + body); errors name the template."""
    values = Values()
    try:
        body = environment(values).from_string(template_text).render(**context)
    except jinja2.TemplateError as e:
        raise ConfigError(f"{name}: template error: {e}") from e
    except (TypeError, ValueError, ArithmeticError) as e:
        raise ConfigError(f"{name}: a value does not fit its template expression: {e}") from e
    used = set()
    body = place(body, used, name)
    return LIB + "\n" + values.header(used) + body
