"""Testcases (lab/workloads/testcase.py): the schema, values as data, axes."""
import re
import shutil
import subprocess

import pytest

from lab.errors import ConfigError
from lab.vm.links import make_links
from lab.workloads import load_testcase
from lab.workloads.render import render
from tests.support import ROOT

GOOD = """name: t
parser: iperf3
metric: {name: throughput, unit: Gbit/s}
run: echo hi
"""


def write(tmp_path, text):
    p = tmp_path / "tc.yaml"
    p.write_text(text)
    return p


def test_shipped_testcases_validate():
    for p in sorted((ROOT / "testcases").glob("*.yaml")):
        tc = load_testcase(p)
        assert tc.cells(), p


def test_defaults_and_cells(tmp_path):
    tc = load_testcase(write(tmp_path, GOOD + "axes: {proto: [tcp, udp], size: [64, 1500]}\n"))
    assert [m.name for m in tc.links] == ["virtio", "e1000e"] and tc.duration == 5 and tc.repeat == 1
    assert tc.cells() == [{"proto": "tcp", "size": 64}, {"proto": "tcp", "size": 1500},
                          {"proto": "udp", "size": 64}, {"proto": "udp", "size": 1500}]


@pytest.mark.parametrize("extra,needle", [
    ("duraton: 5\n", ":5: duraton: unknown key; allowed: name, description"),
    ("duration: fast\n", ":5: duration: expected integer or number, got str 'fast'"),
    ("duration: 0\n", ":5: duration: 0 is out of range; allowed 1..3600"),
    ("repeat: 2.5\n", ":5: repeat: expected integer"),
    ("links: [virtio, rtl8139]\n", ":5: links.1: unknown NIC model 'rtl8139'; known models: virtio, e1000e"),
    ("axes: {size: 64}\n", ":5: axes.size: expected list"),
    ("metric: {name: x}\n", "metric: missing required key 'unit'"),
    ("perf: {events: [1]}\n", "perf.events.0: expected string"),
    ("backend: {deterministic: socket}\n", ":5: backend.deterministic: expected a known mode (wallclock, "
                                           "deterministic) and a link backend (tap, hub), got 'socket'"),
    ("backend: {fast: hub}\n", ":5: backend.fast: expected a known mode"),
    ("append: {deterministic: [nohz=off, 'init=/x quiet']}\n",
     ":5: append.deterministic: expected a known mode (wallclock, deterministic) and a list of kernel arguments"),
    ("append: {deterministic: nohz=off}\n", ":5: append.deterministic: expected"),
    ("append: {fast: [nohz=off]}\n", ":5: append.fast: expected a known mode"),
])
def test_bad_values_name_file_line_key(tmp_path, extra, needle):
    text = GOOD.replace("metric: {name: throughput, unit: Gbit/s}\n",
                        "") + extra if extra.startswith("metric") else GOOD + extra
    if extra.startswith("metric"):
        needle = needle
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_testcase(p)
    assert str(p) in str(e.value) and needle in str(e.value)


def test_exclude_drops_axis_points(tmp_path):
    tc = load_testcase(write(tmp_path, GOOD + "axes: {xm: [a, b], burst: [1, 8]}\nexclude: [{xm: b, burst: 8}]\n"))
    assert tc.cells() == [{"xm": "a", "burst": 1}, {"xm": "a", "burst": 8}, {"xm": "b", "burst": 1}]
    with pytest.raises(ConfigError, match=r"exclude.0.nope: not an axis; axes: xm"):
        load_testcase(write(tmp_path, GOOD + "axes: {xm: [a]}\nexclude: [{nope: 1}]\n"))


def test_unknown_parser_lists_known(tmp_path):
    with pytest.raises(ConfigError, match=r"tc.yaml:2: parser: unknown parser 'nope'; known: iperf3, json"):
        load_testcase(write(tmp_path, GOOD.replace("parser: iperf3", "parser: nope")))


def test_syntax_error_has_line(tmp_path):
    with pytest.raises(ConfigError, match=r"tc.yaml:3: YAML syntax error"):
        load_testcase(write(tmp_path, "name: t\nrun: x\n  bad: [\n"))


def test_missing_file():
    with pytest.raises(ConfigError, match="cannot read testcase"):
        load_testcase("/nonexistent/tc.yaml")


def test_values_with_shell_metacharacters_are_data(tmp_path):
    """A value like `$(touch X)` or `; rm` reaches the command as one literal argument, never as code."""
    marker = tmp_path / "pwned"
    evil = f"x; touch {marker}; $(touch {marker}) `touch {marker}`"
    ctx = {"params": {"v": evil}, "link": make_links(["virtio"])[0].template_vars()}
    script = render("printf '%s\\n' {{ params.v }} {{ link.ns_a }}\n", ctx)
    out = subprocess.run(["sh", "-ec", script], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == [evil, "virtio0a"]
    assert not marker.exists()


def test_args_filter_and_no_way_to_splice_text():
    s = render("printf '<%s>' {{ xs | args }}", {"xs": ["a b", "c"]})
    assert subprocess.run(["sh", "-c", s], capture_output=True, text=True).stdout == "<a b><c>"
    with pytest.raises(ConfigError, match="No filter named 'raw'"):
        render("echo {{ code | raw }}", {"code": "$((1+1))"})


def test_templates_see_the_measurement_mode():
    tc = load_testcase(ROOT / "testcases/xsk.yaml")
    ctx = {"link": make_links(["virtio"])[0].template_vars(), "params": {"size": 64}, "duration": 2, "cell_dir": "/c",
           "links": []}
    assert "-p 500" in render(tc.run, {**ctx, "mode": "deterministic"})
    assert "-p 500" not in render(tc.run, {**ctx, "mode": "wallclock"})
    assert "tx-frames 0" in render(tc.setup, {**ctx, "mode": "deterministic"})


@pytest.mark.parametrize("name", ["mode", "kernel", "link", "accel", "run", "cell"])
def test_names_the_lab_uses_are_refused_as_axes_and_params(tmp_path, name):
    with pytest.raises(ConfigError, match=rf"tc.yaml:5: axes.{name}: '{name}' is a name the lab uses itself"):
        load_testcase(write(tmp_path, GOOD + f"axes: {{{name}: [a, b]}}\n"))
    with pytest.raises(ConfigError, match=rf"params.{name}: '{name}' is a name the lab uses itself"):
        load_testcase(write(tmp_path, GOOD + f"params: {{{name}: 1}}\n"))


def test_yaml_booleans_never_appear_by_accident(tmp_path):
    with pytest.raises(ConfigError, match=r"tc.yaml:5: axes.gso.0: 'on' reads as a YAML boolean; write \"on\" "
                                          r"\(quoted\)"):
        load_testcase(write(tmp_path, GOOD + "axes: {gso: [on, off]}\n"))
    assert load_testcase(write(tmp_path,
                               GOOD + "axes: {gso: ['on', 'off']}\nparams: {flag: true}\n")).params["flag"] is True


# Every way a value could turn into code if it were spliced into the script text.
HOSTILE = ["$(touch {f})", "`touch {f}`", "'; touch {f}; '", "\"; touch {f}; \"", "x\ntouch {f}\n", "*", "a b"]


STUB = "#!/bin/sh\necho 1\n"  # every command the scripts call: prints 1 (a number where they read one), succeeds


def test_hostile_values_in_every_param_and_axis_of_every_shipped_testcase_stay_data(tmp_path):
    """Render every step of every shipped testcase in both modes with each hostile value in every param and
    axis, and run it on the host with stub commands: the marker file is never created."""
    from lab.modes import MODES
    stubs = tmp_path / "bin"
    stubs.mkdir()
    tools = set()
    for p in sorted((ROOT / "testcases").glob("*.yaml")):
        tools |= set(re.findall(r"(?m)(?:^|[;&|(]\s*|\b(?:do|then|else|nsx \S+)\s+)([a-z][\w.-]+)", p.read_text()))
    for t in tools | {"ip", "ethtool", "iperf3", "wg", "nft", "xsk_tx", "udpgso_tx", "xdp-bench", "modprobe", "sysctl",
                      "ping", "pkill", "cat", "grep", "awk", "seq", "python3", "timeout", "umask", "mkdir", "ss", "rm"}:
        if t not in ("sh", "echo", "printf", "test", "set", "export", "exit", "for", "if", "case", "done", "fi", "esac",
                     "while", "until", "wait", "true", "false", "return", "shift", "cd", "read"):
            (stubs / t).write_text(STUB)
            (stubs / t).chmod(0o755)
    (stubs / "sh").symlink_to("/bin/sh")
    (stubs / "touch").unlink(missing_ok=True)
    (stubs / "touch").symlink_to(shutil.which("touch"))  # the one real command: what a hostile value would run
    (stubs / "sleep").write_text("#!/bin/sh\n")
    (stubs / "sleep").chmod(0o755)
    marker = tmp_path / "PWNED"
    ran = 0
    for p in sorted((ROOT / "testcases").glob("*.yaml")):
        tc = load_testcase(p)
        names = list(tc.params) + list(tc.axes)
        for evil in HOSTILE:
            value = evil.format(f=marker)
            params = {n: value for n in names}
            for mode in MODES:
                ctx = {"link": make_links(["virtio"])[0].template_vars(), "params": params, "duration": 2,
                       "cell_dir": str(tmp_path), "links": [], "mode": mode}
                for step in ("setup", "run", "teardown", "collect"):
                    try:
                        script = render(getattr(tc, step), ctx, f"{p.name}:{step}")
                    except ConfigError as e:  # e.g. `params.size - 4` with a string: refused, never run
                        assert "does not fit" in str(e) or "template error" in str(e), e
                        continue
                    subprocess.run(["sh", "-c", script], env={"PATH": str(stubs)}, capture_output=True, timeout=20)
                    ran += 1
                    assert not marker.exists(), (p.name, step, mode, evil)
    assert ran > 250  # most steps rendered and ran (a few refuse a non-numeric value in arithmetic)


def test_kconfig_entries_are_validated_with_their_line(tmp_path):
    bad = (ROOT / "testcases/xsk.yaml").read_text().replace("need: [XDP_SOCKETS, BPF_SYSCALL]", "need: [xdp sockets]")
    with pytest.raises(ConfigError, match=r"xsk.yaml:\d+: kconfig.0.need: 'xdp sockets' is not a kernel option name"):
        load_testcase(ROOT / "testcases/xsk.yaml", text=bad)
    bad = (ROOT / "testcases/tunnel.yaml").read_text().replace("when: {tunnel: fou}", "when: {tunel: fou}")
    with pytest.raises(ConfigError, match=r"kconfig.2.when.tunel: not an axis or param"):
        load_testcase(ROOT / "testcases/tunnel.yaml", text=bad)


def _tc(tmp_path, extra="", name="t", duration="1"):
    f = tmp_path / "t.yaml"
    f.write_text(f"name: {name}\nduration: {duration}\nrun: |\n  echo '{{\"value\": 1}}'\nparser: json\n"
                 f"metric: {{name: x, unit: u}}\n{extra}")
    return f


@pytest.mark.parametrize("kw,msg", [
    ({"name": "a/b"}, "name: 'a/b': 1-64 of letters"),
    ({"duration": ".nan"}, "duration: nan is not a finite number"),
    ({"extra": "loss: {accounted_by: b.snmp.UdpRcvbufErrors}\n"}, "loss.accounted_by: expected list"),
])
def test_bad_testcase_values_are_named(tmp_path, kw, msg):
    from lab.workloads import load_testcase
    with pytest.raises(ConfigError, match=msg):
        load_testcase(_tc(tmp_path, **kw))


def test_bulk_in_deterministic_mode_sends_a_count_inside_one_window_with_the_receiver_down():
    """testcases/bulk.yaml: wall clock runs pktgen for the duration; deterministic mode sends params.packets with
    the start written inside a profiler window (tools/window_write.c), the receiver down, and says delivery is
    not checked there."""
    from lab.measure import render_cell
    from lab.modes import DETERMINISTIC, WALLCLOCK
    from lab.vm.links import make_links
    from lab.workloads import load_testcase
    tc = load_testcase(ROOT / "testcases" / "bulk.yaml")
    link = make_links(["virtio"])[0]
    params = {"burst": 32, "xmit_mode": "start_xmit", "size": 64}
    det = render_cell(tc, link, params, "/lab/cell", DETERMINISTIC)
    wall = render_cell(tc, link, params, "/lab/cell", WALLCLOCK)
    def count(script):  # values reach the script as variables (workloads/render.py)
        var = re.search(r'"count \$\{(_dl\d+)\}"', script).group(1)
        return re.search(rf"\b{var}=(\S+)", script).group(1)
    assert count(det["run"]) == "100000" and "dplab_window_write /proc/net/pktgen/pgctrl start" in det["run"]
    timed = re.compile(r"^\s*pktgen_for ", re.M)  # the wall-clock run: started, stopped after the duration
    assert not timed.search(det["run"]) and timed.search(wall["run"]) and "link set eth0 down" in det["setup"]
    assert count(wall["run"]) == "0" and "dplab_window_write" not in wall["run"] and "down" not in wall["setup"]
    assert tc.loss["receiver_down_in"] == ["deterministic"]
    # the mode's own step before the workload opens its window: the RNG reseeds there, not in it (modes.py)
    assert det["run"].startswith(DETERMINISTIC.before_run + "\n") and "urandom" not in wall["run"]


def test_a_testcase_names_its_backend_and_kernel_arguments_by_mode_and_the_command_line_still_wins(monkeypatch):
    """xdp-rx asks for the hub and a periodic tick in deterministic mode only; guest_setup boots what it asks unless
    --backend says otherwise, and the user's --append comes after the testcase's."""
    import lab.vm.env as env
    from lab.runner import RunOptions
    tc = load_testcase(ROOT / "testcases/xdp-rx.yaml")
    assert (tc.boot_for("deterministic"), tc.boot_for("wallclock")) == (("hub", ["nohz=off"]), (None, []))
    monkeypatch.setattr(env, "resolve_kernel", lambda k, **kw: k)
    monkeypatch.setattr(env, "vm_config", lambda spec, kernel, say: (spec, {}))
    booted = {(m, b): env.guest_setup(tc, RunOptions(mode=m, backend=b, append=["quiet"]))[1]
              for m in ("deterministic", "wallclock") for b in (None, "tap")}
    det, wall = "deterministic", "wallclock"
    assert {k: v.backend for k, v in booted.items()} == {(det, None): "hub", (det, "tap"): "tap",
                                                         (wall, None): None, (wall, "tap"): "tap"}
    assert {k: v.append for k, v in booted.items()} == {(det, None): ["nohz=off", "quiet"],
                                                        (det, "tap"): ["nohz=off", "quiet"],
                                                        (wall, None): ["quiet"], (wall, "tap"): ["quiet"]}
