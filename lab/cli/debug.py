"""`lab debug RUN --cell N [--gdb] [--print] [-- CMD]`: a run's cell in a virtme-ng guest (lab/debug.py)."""



def cmd_debug(a):
    from ..debug import debug
    return debug(a.run, a.cell, command=" ".join(a.rest) if a.rest else None, gdb=a.gdb, print_only=a.print)


def add_parser(sub):
    d = sub.add_parser("debug", help="boot a run's cell with virtme-ng (its kernel, NICs, MACs, setup ready): "
                       "lab debug runs/ID --cell N")
    d.add_argument("run", metavar="RUN_DIR")
    d.add_argument("--cell", type=int, required=True, help="the cell's number (results.jsonl 'cell', lab report)")
    d.add_argument("--gdb", action="store_true", help="vng --debug: QEMU's gdb server on localhost:1234")
    d.add_argument("--print", action="store_true", help="print the commands instead of running them")
    d.epilog = "lab debug RUN --cell N -- CMD: run /lab/debug.sh, then CMD, and power off (default: vng's console)"
    d.set_defaults(func=cmd_debug)
