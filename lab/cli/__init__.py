"""`lab`: the command line, one module per command (run, boot, build + kernel, results: compare/report/gate,
kconfig, selftest, debug); here the parser's assembly and the exit policy (an error is `lab: error: ...`)."""
import argparse
import os
import signal
import sys

from ..errors import ConfigError, LabError
from .bisect import add_parser as bisect_parser
from .boot import add_parser as boot_parser
from .build import add_parser as build_parser_
from .debug import add_parser as debug_parser
from .kconfig import add_parser as kconfig_parser
from .results import add_parsers as results_parsers
from .run import add_parser as run_parser
from .run import run_options  # noqa: F401 - tests and the plugin build RunOptions as `lab run` does
from .selftest import add_parser as selftest_parser


def _sigterm(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def build_parser():
    p = argparse.ArgumentParser(prog="lab",
                                description="dplab: build, boot and measure Linux network datapath kernels in QEMU.")
    sub = p.add_subparsers(dest="cmd", required=True)

    run_parser(sub)
    boot_parser(sub)
    build_parser_(sub)
    results_parsers(sub)
    kconfig_parser(sub)
    selftest_parser(sub)
    debug_parser(sub)
    bisect_parser(sub)
    return p


def process_age():
    """Seconds since this process started (interpreter start-up and imports included), from /proc."""
    try:
        start_ticks = int(open("/proc/self/stat").read().rsplit(")", 1)[1].split()[19])
        uptime = float(open("/proc/uptime").read().split()[0])
        return round(uptime - start_ticks / os.sysconf("SC_CLK_TCK"), 3)
    except (OSError, ValueError, IndexError):
        return None


def main(argv=None):
    started = process_age()
    signal.signal(signal.SIGTERM, _sigterm)
    sys.stdout.reconfigure(line_buffering=True)  # progress lines show as they happen, also into a file or CI log
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even where a parent shell ignored it
    argv = list(sys.argv[1:] if argv is None else argv)
    rest = None  # after `--`: a command for the guest (lab boot, lab debug), never options of ours
    if "--" in argv:
        argv, rest = argv[:argv.index("--")], argv[argv.index("--") + 1:]
    a = build_parser().parse_args(argv)
    a.rest = rest
    a.started = started
    try:
        return a.func(a)
    except ConfigError as e:
        print(f"lab: error: {e}", file=sys.stderr)
        return 2
    except LabError as e:
        print(f"lab: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:  # a file or device the command needed: named by the error itself
        print(f"lab: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("lab: interrupted; results so far are kept", file=sys.stderr)
        return 130

