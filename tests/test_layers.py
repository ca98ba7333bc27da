"""The house's shape: layers point one way and no module imports itself back (function-level imports included)."""
import ast
from pathlib import Path

LAB = Path(__file__).resolve().parent.parent / "lab"
# cli/plugin -> runner -> workloads -> vm -> kernel/report -> results/guest/metrics -> base
RANK = {"errors": 0, "paths": 0, "match": 0, "hashing": 0, "host": 0, "hostinfo": 0, "modes": 0, "options": 0,
        "progress": 0, "__init__": 0,
        "results": 1, "guest": 1, "metrics": 1,
        "kernel": 2, "report": 2,
        "vm": 3,
        "workloads": 4, "remote": 4,
        "plan": 5, "measure": 5, "runner": 5, "targets": 5, "bisect": 5, "gate": 5, "selftest": 5, "debug": 5,
        "cli": 6, "pytest_plugin": 6, "bench": 6}
MAX_LINES = 300


def modules():
    for p in sorted(LAB.rglob("*.py")):
        yield ".".join(("lab",) + p.relative_to(LAB).with_suffix("").parts), p


def imports(name, path):
    """Absolute lab.* module names `path` imports (relative imports resolved), anywhere in the file."""
    pkg = name.split(".")[:-1] if not path.name == "__init__.py" else name.split(".")
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = pkg[:len(pkg) - node.level + 1] if node.level else []
            mod = ".".join(base + (node.module.split(".") if node.module else []))
            for alias in node.names:
                cand = f"{mod}.{alias.name}"
                out.add(cand if (LAB.parent / cand.replace(".", "/")).with_suffix(".py").exists() else mod)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {m for m in out if m.startswith("lab.") or m == "lab"}


def top(mod):
    return mod.split(".")[1] if "." in mod else "__init__"


def test_layers_point_one_way():
    bad = []
    for name, path in modules():
        for dep in imports(name, path):
            if top(dep) != top(name) and RANK[top(dep)] > RANK[top(name)]:
                bad.append(f"{name} (layer {RANK[top(name)]}) imports {dep} (layer {RANK[top(dep)]})")
    assert not bad, "\n".join(bad)


def test_no_import_cycles():
    graph = {name: {d for d in imports(name, path) if d != name and not d.endswith("__init__")} for name,
             path in modules()}
    graph = {k: {d for d in v if d in graph} for k, v in graph.items()}
    state, cycles = {}, []

    def visit(n, stack):
        state[n] = "open"
        for d in graph[n]:
            if state.get(d) == "open":
                cycles.append(" -> ".join(stack[stack.index(d):] + [d]))
            elif d not in state:
                visit(d, stack + [d])
        state[n] = "done"

    for n in graph:
        if n not in state:
            visit(n, [n])
    assert not cycles, "\n".join(cycles)


def test_no_module_over_the_size_limit():
    big = [f"{p.relative_to(LAB.parent)}: {n} lines" for _, p in modules()
           if (n := len(p.read_text().splitlines())) > MAX_LINES]
    assert not big, "\n".join(big)
