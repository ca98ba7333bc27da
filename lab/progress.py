"""Progress of long work (a kernel build's objects, a run's cells, selftests): done/total, elapsed and an ETA, as
one refreshed line on a terminal and as plain lines (one every `every` seconds, and the last) in a log."""
import sys
import threading
import time


def clock(seconds):
    seconds = int(max(0, seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else \
        f"{seconds // 60}:{seconds % 60:02d}"


class Progress:
    """`what` done out of `total` (None: not known yet); `stream` a terminal or a log."""

    def __init__(self, what, total=None, stream=None, every=15.0, now=time.monotonic):
        self.what, self.total, self.done, self.note = what, total, 0, ""
        self.stream = stream or sys.stderr
        self.tty = getattr(self.stream, "isatty", lambda: False)()
        self.every, self.now = every, now
        self.t0 = self.last = now()
        self.shown = False
        self.lock = threading.Lock()  # guests measuring at once advance it from their threads

    def text(self):
        elapsed = self.now() - self.t0
        if self.total:
            left = elapsed / self.done * (self.total - self.done) if self.done else None
            head = f"{self.what}: {self.done}/{self.total} ({100 * self.done // self.total}%)"
            tail = f", ETA {clock(left)}" if left is not None else ""
        else:
            head, tail = f"{self.what}: {self.done}", ""
        return f"{head} {clock(elapsed)} elapsed{tail}" + (f"  {self.note}" if self.note else "")

    def advance(self, n=1, note=None):
        with self.lock:
            self.done += n
            if note is not None:
                self.note = note
            self.show()

    def show(self, force=False):
        t = self.now()
        if self.tty:
            if force or t - self.last >= 0.5:
                self.stream.write("\r\033[K" + self.text())
                self.stream.flush()
                self.last = t
        elif force or t - self.last >= self.every:
            self.shown = self.text()
            self.stream.write(self.shown + "\n")
            self.stream.flush()
            self.last = t

    def close(self):
        """The last state, on a line of its own."""
        if self.tty:
            self.stream.write("\r\033[K" + self.text() + "\n")
        elif self.shown != self.text():  # a log: unless that very line was the last one written
            self.stream.write(self.text() + "\n")
        self.stream.flush()
