"""perf stat around the measured step: argv, CSV parsing, PMU detection."""


def perf_argv(events, out_path, command):
    """`command` under `perf stat -a` counting `events`; no events: the command alone."""
    if not events:
        return list(command)
    return ["perf", "stat", "-a", "-x", ",", "-o", str(out_path), "-e", ",".join(events), "--", *command]


def parse_perf_csv(text):
    """{event: count} from `perf stat -x,`; unsupported/not counted events map to None."""
    out = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        f = line.split(",")
        if len(f) < 3:
            continue
        value, event = f[0], f[2]
        if not event:
            continue
        if value.startswith("<"):
            out[event] = None
            continue
        try:
            num = float(value)
        except ValueError:
            continue
        out[event] = int(num) if num.is_integer() else num
    return out
