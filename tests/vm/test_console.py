"""The serial console watchdog (lab/vm/console.py): panics, Oopses, WARNINGs and their fingerprints."""
import io

from lab.vm.console import ConsoleWatcher, classify, scan_text
from tests.support import SUPPORT

DATA = SUPPORT / "data"


def test_panic_is_found_with_context():
    reps = scan_text((DATA / "panic.txt").read_text())
    assert [r.kind for r in reps] == ["panic"]
    assert "Unable to mount root fs" in reps[0].headline
    assert "mount_block_root" in reps[0].excerpt


def test_warning_fingerprint_is_rip_plus_trace_top():
    reps = scan_text((DATA / "warn.txt").read_text())
    assert reps[0].kind == "warning"
    assert reps[0].fingerprint == "warning:skb_warn_bad_offload/__skb_gso_segment/validate_xmit_skb"


def test_oops_first_line_is_bug_and_fingerprint_names_the_fault():
    reps = scan_text((DATA / "oops.txt").read_text())
    assert reps[0].kind == "bug"
    assert reps[0].fingerprint.startswith("bug:xsk_build_skb_zerocopy/__xsk_generic_xmit")


def test_ordinary_lines_are_not_reports():
    for line in ["[    3.1] virtio_net virtio0: WARNINGS none", "random: crng init done", "dplab-init: stage1 4.4s",
                 "[    1.0] ACPI: bus type PCI registered"]:
        assert classify(line) is None


def test_init_failure_is_fatal():
    assert classify("dplab-init: FATAL: cannot mount the host root")[0] == "init-failure"


def test_watcher_reports_panic_and_writes_log(tmp_path):
    stream = io.BytesIO((DATA / "panic.txt").read_bytes())
    w = ConsoleWatcher(stream, tmp_path / "console.log")
    w.wait_eof(5)
    rep = w.fatal(settle=0)
    assert rep is not None and rep.kind == "panic"
    assert "end Kernel panic" in rep.excerpt
    assert (tmp_path / "console.log").read_bytes() == (DATA / "panic.txt").read_bytes()
    assert "Kernel Offset" in w.tail_text()


def test_nipas_five_function_fingerprint_skips_an_ignored_prefix():
    from lab.vm.console import fingerprint5, read_ignore
    trace = """[ 1081.419773][    C3] Call Trace:
[ 1081.420008][    C3]  dump_stack_lvl+0x82/0xd0
[ 1081.420197][    C3]  __report_bad_irq+0x5f/0x180
[ 1081.420371][    C3]  note_interrupt+0x6b3/0x860
[ 1081.420556][    C3]  handle_irq_event+0x16d/0x1c0
[ 1081.420728][    C3]  handle_edge_irq+0x1fa/0xb60
[ 1081.420912][    C3]  __common_interrupt+0x82/0x170
[ 1081.421128][    C3]  common_interrupt+0x7e/0x90
    [<ffffffffb3dee5e4>] tcp_ao_alloc_info+0x44/0xf0""".splitlines()
    assert fingerprint5(trace) == "dump_stack_lvl:__report_bad_irq:note_interrupt:handle_irq_event:handle_edge_irq"
    assert fingerprint5(trace, [["dump_stack_lvl", "__report_bad_irq"]]) == \
        "note_interrupt:handle_irq_event:handle_edge_irq:__common_interrupt:common_interrupt"
    assert fingerprint5(trace[-1:]) == "tcp_ao_alloc_info"  # kmemleak's backtrace lines too
    from tests.support import ROOT
    assert ["dump_stack_lvl", "__report_bad_irq"] in read_ignore(ROOT / "selftests/crash-ignore.txt")
