"""`lab boot` (lab/cli/boot.py): what runs in the guest."""
from lab.cli.boot import guest_command


def test_one_word_is_a_shell_string_several_stay_an_argv():
    assert guest_command(["echo one; echo two"]) == ["sh", "-c", "echo one; echo two"]
    assert guest_command(["ip", "-br", "addr"]) == ["ip", "-br", "addr"]
    assert guest_command([]) == ["uname", "-a"]
