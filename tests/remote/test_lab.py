"""remote-lab without a host (lab/remote/lab.py): the options sent, the checkout tar."""
import gzip
import io
import subprocess
import tarfile

import pytest

from lab.cli import build_parser, run_options
from lab.errors import ConfigError
from lab.remote.lab import checkout_tar, kernel_upload, run_flags
from lab.runner import RunOptions


@pytest.mark.parametrize("argv", [
    ["--mode", "deterministic", "--duration", "2.5", "--repeat", "3", "--axis", "size=64,1500", "--links",
     "virtio,e1000e",
     "--profile", "--cpu-model", "Nehalem", "--append", "quiet loglevel=3", "--backend", "hub", "--shard", "1/2"],
    ["--accel", "kvm", "--cpus", "4", "--memory", "4G", "--rounds", "2", "--no-profile", "--boot-timeout", "60"],
    [],
])
def test_run_flags_are_the_inverse_of_the_command_line(argv):
    opts = run_options(build_parser().parse_args(["run", "t.yaml", *argv]))
    again = run_options(build_parser().parse_args(["run", "t.yaml", *run_flags(opts)]))
    assert again == RunOptions(**{**vars(opts), "target": None, "hosts": "hosts/lab.yaml"})
    assert again.axes == opts.axes and again.append == opts.append and again.profile == opts.profile


def test_checkout_tar_is_named_by_content_and_holds_the_lab():
    tag, tgz = checkout_tar()
    assert checkout_tar()[0] == tag  # deterministic: mtime 0, sorted
    names = tarfile.open(fileobj=io.BytesIO(gzip.decompress(tgz))).getnames()
    assert "lab/remote/lab.py" in names and "testcases/xsk.yaml" in names and "kconfigs/lab.config" in names
    assert not any(n.startswith((".git/", "runs/", ".venv/")) for n in names)


def test_debian_specs_pass_through_and_module_kernels_are_refused(tmp_path):
    assert kernel_upload("debian:6.12") == ("debian:6.12", {}, None) and kernel_upload(None) == (None, {}, None)
    mods = tmp_path / "k" / "lib" / "modules" / "6.1.0"
    mods.mkdir(parents=True)
    (mods / "modules.dep").write_text("")
    boot = tmp_path / "k" / "boot"
    boot.mkdir()
    (boot / "vmlinuz-6.1.0").write_bytes(b"\0" * 0x300)
    with pytest.raises(ConfigError, match=r"remote-lab sends `lab build` kernels .*--kernel debian"):
        kernel_upload(str(tmp_path / "k"))


def test_remote_lab_sends_tracked_files_only_with_their_modes_and_never_a_key(tmp_path):
    import gzip
    import io
    import tarfile

    from lab.remote.lab import checkout_tar
    repo = tmp_path / "co"
    (repo / "hosts" / "keys").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "run.sh").write_text("#!/bin/sh\n")
    (repo / "run.sh").chmod(0o750)
    (repo / "secret.txt").write_text("private\n")
    (repo / "secret.txt").chmod(0o600)
    (repo / "hosts" / "keys" / "id").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nx\n")  # untracked
    subprocess.run(["git", "-C", str(repo), "add", "run.sh", "secret.txt"], check=True)
    _, tgz = checkout_tar(repo)
    members = {m.name: m.mode for m in tarfile.open(fileobj=io.BytesIO(gzip.decompress(tgz)))}
    assert members == {"run.sh": 0o750, "secret.txt": 0o600}
    subprocess.run(["git", "-C", str(repo), "add", "-f", "hosts/keys/id"], check=True)  # tracked by mistake
    with pytest.raises(ConfigError, match="holds a private key"):
        checkout_tar(repo)


def test_a_ctrl_c_while_streaming_is_noted_never_raised_mid_line_and_the_handler_is_restored():
    """A SIGINT that lands while a remote line prints (not in the read) was a KeyboardInterrupt there: the remote
    run went on unattended and nothing came back. Within ctrl_c_noted it is a note the stream loop passes on."""
    import os
    import signal

    from lab.remote.lab import ctrl_c_noted
    before = signal.getsignal(signal.SIGINT)
    with ctrl_c_noted() as pressed:
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)
        printed = [f"line {i}" for i in range(1000)]  # Python runs the handler between these bytecodes
    assert len(pressed) == 2 and len(printed) == 1000
    assert signal.getsignal(signal.SIGINT) is before
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        [None for _ in range(1000)]
