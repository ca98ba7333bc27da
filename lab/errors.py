"""Errors the lab reports to a user, one class per kind of failure (TuxMake's exceptions.py is the model): each
message says what went wrong and what to do. The command line prints any of them as `lab: error: ...`."""


class LabError(Exception):
    """An error with a message fit for the terminal (no traceback needed)."""


class ConfigError(LabError):
    """Bad user input: a testcase, an option, a kconfig fragment, a patch."""


class MissingTool(LabError):
    """A host tool is missing; the message names the apt package that provides it."""


class GuestError(LabError):
    """A guest command failed, timed out, or the guest died."""

    def __init__(self, msg, console_tail="", stderr=""):
        super().__init__(msg + (f"\n--- console ---\n{console_tail}" if console_tail else ""))
        self.console_tail, self.stderr = console_tail, stderr  # stderr: a failed command's own, when it has one


class GuestCrash(GuestError):
    """The guest kernel printed a panic, Oops, BUG, WARNING or KASAN report."""

    def __init__(self, report, result=None):
        self.report = report
        self.result = result  # the command's GuestResult when the report came while one ran
        super().__init__(f"guest kernel {report.kind}: {report.headline}\n{report.excerpt}")


class TargetError(LabError):
    """A target host over SSH: it cannot be reached, a command there failed or hung, a directory there is not
    private."""


class KexecError(TargetError):
    """The host could not load the kernel under test, or did not come back running it (`down`: not at all)."""

    def __init__(self, msg, down=False):
        super().__init__(msg)
        self.down = down


class UnsafePath(LabError):
    """A name or a file that a guest or a target wrote and that would reach outside its tree (a link, `..`, an
    absolute path), or is larger than the lab reads."""
