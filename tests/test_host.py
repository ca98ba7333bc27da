"""Host tools (lab/host.py): a missing one names its apt package."""
import pytest

from lab.errors import MissingTool
from lab.host import which


def test_missing_tool_names_the_apt_package():
    with pytest.raises(MissingTool, match="apt-get install --no-install-recommends wireguard-tools"):
        which("wg", paths="/nonexistent")
