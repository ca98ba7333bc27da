"""A performance test in ten lines: on virtio-net, TSO/GSO on beats off, judged by the comparison
engine's verdict (95 % Welch interval), never by a fixed number."""
from pathlib import Path

import pytest

TESTCASE = Path(__file__).resolve().parent.parent / "testcases" / "offload.yaml"


@pytest.mark.vm
@pytest.mark.slow
def test_gso_on_beats_off(lab_measure):
    m = lab_measure(TESTCASE, duration=2, repeat=4)
    assert m.verdict("offload", "on", "off").verdict == "slower"
