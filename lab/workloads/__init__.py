"""Testcases: YAML files validated against a schema, jinja2 templates rendered into guest scripts."""
from .testcase import Testcase, load_testcase

__all__ = ["Testcase", "load_testcase"]
