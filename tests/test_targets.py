"""Target providers (lab/targets.py): options a kind cannot take are refused by name."""
import pytest

from lab.errors import ConfigError
from tests.support import write_hosts


def test_kernel_and_append_options_need_a_kexec_target(tmp_path):
    from lab.runner import RunOptions
    from lab.targets import provider_for as target_of
    plain = write_hosts(tmp_path, "")
    with pytest.raises(ConfigError,
                       match=r"--target b1: --kernel needs a kexec: section in its entry \(.*hosts.yaml:2"):
        target_of(RunOptions(target="b1", hosts=str(plain), kernels=["stock"]))
    kx = tmp_path / "kx"
    kx.mkdir()
    with pytest.raises(ConfigError, match="--append goes on the command line of a --kernel"):
        target_of(RunOptions(target="b1", hosts=str(write_hosts(kx, "    kexec: {}\n")), append=["nosmt"]))
