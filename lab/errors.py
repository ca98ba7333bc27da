"""Errors the lab reports to a user: each says what went wrong and what to do."""


class LabError(Exception):
    """An error with a message fit for the terminal (no traceback needed)."""


class ConfigError(LabError):
    """Bad user input: a testcase, an option, a kconfig fragment, a patch."""


class MissingTool(LabError):
    """A host tool is missing; the message names the apt package that provides it."""


class GuestError(LabError):
    """A guest command failed, timed out, or the guest died."""

    def __init__(self, msg, console_tail=""):
        super().__init__(msg + (f"\n--- console ---\n{console_tail}" if console_tail else ""))
        self.console_tail = console_tail


class GuestCrash(GuestError):
    """The guest kernel printed a panic, Oops, BUG, WARNING or KASAN report."""

    def __init__(self, report):
        self.report = report
        super().__init__(f"guest kernel {report.kind}: {report.headline}\n{report.excerpt}")
