"""kconfig: tinyconfig + fragments merged by scripts/kconfig/merge_config.sh, olddefconfig, then verified.

Every option a fragment requests must be in the final .config with the requested value; one that
was dropped is an error naming it and the `depends on` lines of its Kconfig entry.
"""
import re
import subprocess
from pathlib import Path

from ..errors import ConfigError

OPT = re.compile(r"^(CONFIG_\w+)=(.*)$")
NOT_SET = re.compile(r"^# (CONFIG_\w+) is not set$")
VALUE = re.compile(r'[ymn]|-?\d+|0x[0-9a-fA-F]+|"([^"\\]|\\.)*"')


def parse_config(text):
    """{CONFIG_X: value} with 'n' for '# CONFIG_X is not set'."""
    out = {}
    for line in text.splitlines():
        m = OPT.match(line.strip())
        if m:
            out[m.group(1)] = m.group(2)
            continue
        m = NOT_SET.match(line.strip())
        if m:
            out[m.group(1)] = "n"
    return out


def requested(fragments):
    """{option: (value, fragment path, line)} over the fragments in order (later ones win). A line that is neither
    blank, a comment, `CONFIG_X=value` nor `# CONFIG_X is not set` is a ConfigError naming file and line (kconfig
    itself would ignore it silently: `XDP_SOCKETS=y`, `CONFIG_X = y`, `CONFIG_X=y # why`)."""
    out = {}
    for frag in fragments:
        try:
            lines = Path(frag).read_text().splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"{frag}: cannot read the kconfig fragment: {e}") from None
        for n, line in enumerate(lines, 1):
            m = OPT.match(line.strip()) or NOT_SET.match(line.strip())
            if m:
                val = m.group(2) if m.re is OPT else "n"
                if m.re is OPT and not VALUE.fullmatch(val):
                    raise ConfigError(f"{frag}:{n}: {m.group(1)}={val}: a value is y, m, n, a number or a \"string\" "
                                      f"(a trailing comment belongs on a line of its own)")
                out[m.group(1)] = (val, str(frag), n)
            elif line.strip() and not line.lstrip().startswith("#"):
                raise ConfigError(f"{frag}:{n}: {line.strip()!r} is not CONFIG_NAME=value (kconfig would ignore it)")
    return out


def kconfig_depends(srctree, option):
    """The `depends on` / `select`-free dependency lines of `config <option>` in the tree's Kconfig files."""
    name = option[len("CONFIG_"):]
    try:
        p = subprocess.run(["grep", "-rn", "--include=Kconfig*", "-A", "30", f"^\\s*\\(menu\\)\\?config {name}$", "."],
                           cwd=srctree, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return []
    deps, where = [], None
    for line in p.stdout.splitlines():
        m = re.match(r"^(\S+?)[:-](\d+)[:-](.*)$", line)
        if not m:
            continue
        text = m.group(3)
        if re.match(rf"^\s*(menu)?config {name}$", text):
            where = f"{m.group(1)}:{m.group(2)}"
            continue
        if re.match(r"^\s*(config|menuconfig|menu|endmenu|choice|endchoice|if|endif|source|comment)\b", text):
            where = None
            continue
        if where and re.match(r"^\s*depends on\b", text):
            deps.append(f"{text.strip()} ({where})")
    for m in re.finditer(r"^(\S+?):(\d+):\s*(?:menu)?config " + name + r"$", p.stdout, re.M):
        deps += enclosing_ifs(Path(srctree) / m.group(1), int(m.group(2)))
    return deps


def enclosing_ifs(kconfig, line_no):
    """`if X` blocks around line `line_no` of a Kconfig file: dependencies that are not on the entry itself."""
    stack = []
    for n, line in enumerate(Path(kconfig).read_text(errors="replace").splitlines()[:line_no - 1], 1):
        m = re.match(r"^if\s+(\S.*)$", line.rstrip())  # statements start at column 0; help text is indented
        if m:
            stack.append(f"inside 'if {m.group(1)}' ({kconfig.name}:{n})")
        elif re.match(r"^endif\b", line) and stack:
            stack.pop()
    return stack


BEST_EFFORT = "# dplab: best effort"  # a fragment's first line: what cannot be set is named, not an error


def verify(final_text, fragments, srctree):
    """ConfigError listing every requested option that did not stick, with its dependencies; those of best-effort
    fragments (first line BEST_EFFORT: a kselftest target's config) are returned instead, the same words each."""
    final = parse_config(final_text)
    bad, soft = [], []
    best_effort = {str(f) for f in fragments if Path(f).read_text().startswith(BEST_EFFORT)}
    for opt, (val, frag, line) in requested(fragments).items():
        got = final.get(opt, "n" if val == "n" else None)
        if got != val:
            deps = kconfig_depends(srctree, opt)
            if got is None and not deps and not list(Path(srctree).glob("Kconfig")):
                why = ""
            elif got is None and not deps:
                why = "; no such option in this tree, or it has no prompt (selected by others)"
            else:
                why = "; " + "; ".join(deps) if deps else ""
            (soft if str(frag) in best_effort else bad).append(
                f"{frag}:{line}: {opt}={val} requested, final .config has {opt}={got or '(unset)'}{why}")
    if bad:
        raise ConfigError("kconfig options did not stick:\n  " + "\n  ".join(bad))
    return soft


def merge(srctree, out, fragments, base="tinyconfig", make_env=None, log=None):
    """make O=out <base>; merge_config.sh -m; make olddefconfig; verify. Returns (the final .config text, what
    best-effort fragments asked for and could not get)."""
    srctree, out = Path(srctree), Path(out)
    out.mkdir(parents=True, exist_ok=True)

    def run(argv, cwd):
        p = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=make_env)
        if log:
            log.write(f"$ {' '.join(map(str, argv))}\n{p.stdout}{p.stderr}")
        if p.returncode != 0:
            raise ConfigError(f"kconfig step failed: {' '.join(map(str, argv))}\n{(p.stderr or p.stdout)[-1500:]}")

    run(["make", f"O={out}", base], srctree)
    # merge_config.sh is run from inside out/ so its temp files stay out of the source tree.
    run([str(srctree / "scripts/kconfig/merge_config.sh"), "-m", "-O", str(out), str(out / ".config"),
         *[str(Path(f).resolve()) for f in fragments]], out)
    run(["make", f"O={out}", "olddefconfig"], srctree)
    text = (out / ".config").read_text()
    return text, verify(text, fragments, srctree)


def check_options(config_path, options, modular):
    """(missing, as_modules) of `options` in the kernel config at `config_path`: missing are unset, =n, or =m on
    a kernel without modules; as_modules are =m on a modular kernel (to load before the cells)."""
    have = parse_config(Path(config_path).read_text())
    missing, mods = [], []
    for opt in options:
        v = have.get(opt, "n")
        if v == "m" and modular:
            mods.append(opt)
        elif v in ("n", "m") or v == "":
            missing.append(opt)
    return missing, mods
