"""Progress lines (lab/progress.py): done/total with an ETA, refreshed on a terminal, plain lines in a log."""
import io

from lab.progress import Progress, clock


class Tty(io.StringIO):
    def isatty(self):
        return True


def test_a_log_gets_plain_lines_with_done_total_and_an_eta():
    t = [0.0]
    out = io.StringIO()
    p = Progress("cells", 4, stream=out, every=15, now=lambda: t[0])
    t[0] = 10
    p.advance()  # under 15 s since the start: nothing yet
    assert out.getvalue() == ""
    t[0] = 20
    p.advance()
    assert out.getvalue() == "cells: 2/4 (50%) 0:20 elapsed, ETA 0:20\n"
    t[0] = 30
    p.advance(2)
    p.close()
    assert out.getvalue().splitlines()[-1] == "cells: 4/4 (100%) 0:30 elapsed, ETA 0:00"
    assert "\r" not in out.getvalue()


def test_a_terminal_gets_one_refreshed_line_and_an_unknown_total_has_no_eta():
    t = [0.0]
    out = Tty()
    p = Progress("objects", None, stream=out, now=lambda: t[0])
    for i in range(3):
        t[0] += 1
        p.advance(note="linking" if i == 2 else None)
    p.close()
    text = out.getvalue()
    assert text.count("\r\033[K") == 4 and text.endswith("objects: 3 0:03 elapsed  linking\n") and "ETA" not in text
    assert clock(3725) == "1:02:05" and clock(61) == "1:01"
