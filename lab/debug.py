"""`lab debug RUN --cell N`: one cell of a run handed to a developer in a virtme-ng guest (vm/vng.py).

The cell's kernel boots with vng (its console, its gdb server with --gdb) with the run's NIC models and MACs
on the run's link backend, the mode's QEMU arguments and CPU model, and the run's guest directory at /lab:
`links-N.sh` (vm/links.py `wiring_script`) wires the NICs into the cell's namespaces exactly as the lab's own
boot does, `cells/N/*.sh` are the scripts the cell ran (rendered again from the manifest's testcase if it never
ran), and `/lab/debug.sh` loads the modules the preflight chose, wires, waits for carrier and runs the cell's setup.
"""
import shlex
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError
from .measure import STEPS, render_cell
from .plan import Cell, apply_overrides, fmt_params, plan
from .results import untrusted
from .results.rundir import RunDir
from .runner import load_run, resume_mismatches
from .targets import provider_for
from .vm.hide import hidden_paths, masker
from .vm.links import HostNetwork, wiring_script
from .vm.qemu import stage_guest_dir
from .vm.vng import GDB_PORT, SHARE_AT, VngBoot, vng_env


@dataclass
class DebugCell:
    """A run's cell as `lab debug` boots it: the run, the planned cell, its kernel, the VM configuration."""

    rd: RunDir
    tc: object
    cell: Cell
    kernel: object
    cfg: object
    modules: list

    def summary(self):
        return (f"cell {self.cell.n} of {self.rd.id}: {self.tc.name} {fmt_params(self.cell.params)} on "
                f"{self.cell.link.name}, kernel {self.kernel.name}, {self.cfg.mode.name} mode, {self.cfg.accel}")


def load_cell(run_dir, n, say=print):
    """The DebugCell for cell `n` of `run_dir`; ConfigError naming what is wrong with either."""
    rd, tc, opts = load_run(run_dir)
    m = rd.manifest
    provider = provider_for(opts)
    if not provider.debuggable:
        raise ConfigError(f"{run_dir}: ran on a {provider.kind} target ({opts.target!r}); lab debug boots guests only")
    tc = apply_overrides(tc, opts.links, opts.axes, opts.duration, opts.repeat)
    kernels, cfg, _ = provider.prepare(tc, say=say, accel=m.get("accel"))
    cells = plan(tc, len(kernels), cfg.links, m["testcase"].get("rounds") or 1)
    cell = next((c for c in cells if c.n == n), None)
    if cell is None:
        raise ConfigError(f"{run_dir}: no cell {n}; its cells are 1-{len(cells)} (cell numbers: results.jsonl, lab "
                          "report)")
    for line in resume_mismatches(m, kernels, cfg):
        say(f"dplab debug: WARNING: not what the run measured: {line}")
    kernel = kernels[cell.kernel]
    modules = ((m.get("preflight") or {}).get("modules") or {}).get(kernel.name, [])
    return DebugCell(rd, tc, cell, kernel, cfg, modules)


def cell_dir(dc):
    """The debug session's own directory for the cell, as the guest sees it."""
    return f"{SHARE_AT}/debug/{dc.cell.n}"


def entry_script(dc):
    """debug.sh: modules, links, carrier, the cell's setup; then says what to run."""
    c, q, d = dc.cell, shlex.quote, cell_dir(dc)
    nss = [c.link.ns(s) for s in "ab"]
    lines = ["#!/bin/sh", f"# lab debug: {dc.summary()}", "set -e", f"export PATH={SHARE_AT}/bin:$PATH"]
    if dc.modules:
        lines.append("modprobe -a " + " ".join(map(q, dc.modules)))
    wire = f"NETNS=/run/netns sh {SHARE_AT}/{wiring_script(dc.cfg.links)}"
    lines += ["mkdir -p /run/netns", f"[ -e /run/netns/{q(nss[0])} ] || {wire}",
              "for ns in " + " ".join(map(q, nss)) + "; do i=0",
              '  until [ "$(ip netns exec "$ns" cat /sys/class/net/eth0/carrier 2>/dev/null)" = 1 ]; do',
              '    i=$((i+1)); [ $i -le 100 ] || { echo "lab debug: no carrier on eth0 in $ns after 10 s" >&2; exit 1; '
              '}; sleep 0.1',
              "  done", "done",
              f"sh -e {d}/setup.sh",
              f"echo 'lab debug: cell {c.n} set up ({c.link.ns('a')} {c.link.addr('a')} <-> {c.link.ns('b')} "
              f"{c.link.addr('b')}); measure: sh {d}/run.sh; undo: sh {d}/teardown.sh'"]
    return "\n".join(lines) + "\n"


def stage(dc):
    """The run's guest directory made ready: agent, tools, the wiring script, and debug/N with the cell's scripts."""
    g = dc.rd.guest_dir
    g.mkdir(exist_ok=True)
    stage_guest_dir(g, dc.cfg.links)
    ddir = f"debug/{dc.cell.n}"  # in the tree guests of this run could write: never written through a link
    scripts = render_cell(dc.tc, dc.cell.link, dc.cell.params, cell_dir(dc), dc.cfg.mode)
    for step in STEPS:
        untrusted.write_text(g, f"{ddir}/{step}.sh", scripts[step])
    untrusted.write_text(g, f"{ddir}/debug.sh", entry_script(dc))
    return f"{cell_dir(dc)}/debug.sh"


def vmlinux_of(kernel):
    """The kernel's vmlinux for gdb, if one is kept (a `lab build`'s tree, a vng tree); else None."""
    cands = [kernel.build.get("vmlinux")] if kernel.build else []
    if kernel.image.parts[-4:-1] == ("arch", "x86", "boot"):
        cands.append(kernel.image.parents[3] / "vmlinux")
    return next((Path(p) for p in cands if p and Path(p).exists()), None)


def debug_command(dc, entry, command=None, gdb=False):
    """(HostNetwork, argv): the vng command, inside the run's tap namespace when the backend is tap."""
    exec_cmd = None if command is None else f"sh {entry} && {command}"
    boot = VngBoot(dc.kernel.image, dc.cfg, share=dc.rd.guest_dir.resolve(), exec_cmd=exec_cmd, gdb=gdb,
                   append=list(dc.cfg.append))
    net = HostNetwork(dc.cfg.links, dc.cfg.backend, f"{dc.rd.id}-dbg")
    return net, net.wrap(boot.argv())


def printable(net, argv):
    """The shell a user can paste: the host network's set-up (tap backend), vng, the clean-up."""
    return "\n".join([*net.shell_setup(), shlex.join(argv), *net.shell_teardown()]) + "\n"


def debug(run_dir, n, command=None, gdb=False, print_only=False, say=print):
    """Boot cell `n` of `run_dir` with vng; returns vng's exit status (0 with print_only)."""
    dc = load_cell(run_dir, n, say=say)
    entry = stage(dc)
    net, argv = debug_command(dc, entry, command, gdb)
    if print_only:
        print(printable(net, argv), end="")
        return 0
    say(f"dplab debug: {dc.summary()}")
    if command is None:
        say(f"dplab debug: in the guest: sh {entry}  (links, carrier, the cell's setup); leave with poweroff")
    if gdb:
        vml = vmlinux_of(dc.kernel)
        say(f"dplab debug: gdb server on localhost:{GDB_PORT}: gdb {vml or 'vmlinux'} -ex 'target remote "
            f"localhost:{GDB_PORT}'"
            + ("" if vml else f" ({dc.kernel.name} keeps no vmlinux)"))
    with tempfile.TemporaryDirectory(prefix="dplab-debug-") as tmp, net:
        empty = Path(tmp) / "empty"
        empty.write_text("")
        # vng shares the host root with its guest: the same secrets stay hidden as from the lab's guests (vm/hide.py)
        return subprocess.run(argv, env=vng_env(), preexec_fn=masker(hidden_paths(), empty)).returncode
