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
