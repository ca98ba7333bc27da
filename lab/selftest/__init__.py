"""`lab selftest TARGET[:TEST,...]`: the kernel's own kselftests, built from the kernel's source (build.py) and
run across the lab's guests by kselftest's own runner (run.py); each test becomes a record (pass / fail / skip /
flaky, seconds, its own nested results, crashes) in results.jsonl, `selftests.ktap` and `nipa.json` (nipa.py) in
the run dir. A test that does not build or does not pass is reported failing, never left out."""
from .build import lacking, parse_spec, suite_needs, suite_tests
from .ktap import parse_tap
from .run import run_selftests

__all__ = ["lacking", "parse_spec", "parse_tap", "run_selftests", "suite_needs", "suite_tests"]
