"""The instruction profiler's windows (lab/metrics/profile.py)."""


def test_profile_windows_attribute_each_instruction_to_its_function():
    from lab.metrics.profile import Symbols, attribute, parse_windows, per_packet
    kallsyms = ("ffffffff81000000 T _stext\nffffffff81001000 T start_xmit\nffffffff81001400 t free_old_xmit\n"
                "ffffffff81002000 D some_data\n0000000000000000 T hidden\n")
    plugin = ("W 0 10\nffffffff810013f8 3 2 0 4 8\nE\n"          # 1st: warm-up window
              "W 1 1000\n"
              "ffffffff810013f8 3 40 0 4 8\n"                    # (hex) 64 runs, crosses into free_old_xmit at +8
              "ffffffff81001000 2 64 0 3\n"                      # 100 runs
              "401000 4 32 0 1 2 3\n"                             # user space, 50 runs
              "E\nW 2 5\nffffffff81001000 1 1 0\n")              # a window still being written
    windows = parse_windows(plugin)
    assert [w.index for w in windows] == [0, 1] and windows[1].total == 1000
    counts = attribute(windows[1], Symbols(kallsyms))
    assert counts == {"start_xmit": 2 * 64 + 2 * 100, "free_old_xmit": 64, "[user]": 200}
    per = per_packet(counts, packets=100, floor=0.7)
    assert per == {"start_xmit": 3.28, "[user]": 2.0, "(other)": 0.64}  # free_old_xmit under the floor
    assert abs(sum(per.values()) - sum(counts.values()) / 100) < 1e-9
