"""NIC models and links (lab/vm/links.py): MACs, namespaces, the wiring script, the host side."""
import subprocess

import pytest

from lab.errors import ConfigError
from lab.vm.links import HostNetwork, guest_setup_script, make_links, nic_model


def test_unknown_nic_model_lists_known():
    with pytest.raises(ConfigError, match="unknown NIC model 'rtl8139'; known models: virtio, e1000e"):
        nic_model("rtl8139")


def test_links_have_distinct_macs_namespaces_addresses():
    links = make_links(["virtio", "e1000e"])
    macs = {l.mac(s) for l in links for s in "ab"}
    assert len(macs) == 4 and links[0].ns("a") == "virtio0a" and links[1].addr("b") == "198.18.1.2"


def test_guest_setup_wires_each_nic_by_mac_slowest_carrier_first():
    s = guest_setup_script(make_links(["virtio", "e1000e"]))
    wires = [line for line in s.splitlines() if line.startswith("wire ")]
    assert wires == ["wire e1000e1a 52:54:00:d1:01:0a 198.18.1.1/24 fd00:d1:1::1/64",
                     "wire e1000e1b 52:54:00:d1:01:0b 198.18.1.2/24 fd00:d1:1::2/64",
                     "wire virtio0a 52:54:00:d1:00:0a 198.18.0.1/24 fd00:d1:0::1/64",
                     "wire virtio0b 52:54:00:d1:00:0b 198.18.0.2/24 fd00:d1:0::2/64"]
    assert "dev_by_mac" in s and "unshare --net=" in s and "nsenter --net=" in s  # busybox applets, from RAM
    p = subprocess.run(["busybox", "sh", "-n", "-c", s], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr  # parses as busybox sh


def test_host_network_shell_is_what_it_runs(tmp_path):
    net = HostNetwork(make_links(["virtio"]), "tap", "20261124-000000-x-abcd")
    sh = net.shell_setup()
    assert sh[0] == f"ip netns add {net.netns}" and sh[2] == net.batch().rstrip("\n")
    assert "tuntap add dev dl0a mode tap vnet_hdr" in net.batch()
    assert net.shell_teardown() == [f"ip netns del {net.netns}"]
    assert HostNetwork(make_links(["virtio"]), "hub", "x").shell_setup() == []
