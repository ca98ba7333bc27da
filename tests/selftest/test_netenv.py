"""Where a target's tests run and what they read (lab/selftest/netenv.py)."""
import subprocess

from lab.selftest.netenv import staged_paths, suite_env
from lab.vm.links import make_links


def test_driver_tests_get_the_first_link_as_netif_and_its_peer_namespace_as_the_remote():
    links = make_links(["virtio", "e1000e"])
    te = suite_env("drivers/net", links)
    a = links[0]
    assert te.netns == a.ns("a")
    assert te.env == {"NETIF": "eth0", "LOCAL_V4": a.addr("a"), "REMOTE_V4": a.addr("b"), "LOCAL_V6": a.addr6("a"),
                      "REMOTE_V6": a.addr6("b"), "REMOTE_TYPE": "netns", "REMOTE_ARGS": a.ns("b")}
    # where `make install` puts what the driver tests import: net/lib's Python, YNL and its specs from the tree
    staged = staged_paths("drivers/net")
    assert staged["net/lib/ynl"] == "../../net/ynl"
    assert staged["net/lib/specs"] == "../../../Documentation/netlink/specs"
    assert {"kselftest", "drivers/net", "net/lib", "net/lib.sh", "net/net_helper.sh"} <= set(staged)
    hw = staged_paths("drivers/net/hw")  # its TEST_INCLUDES: drivers/net's Python lib, net/forwarding's shell libs
    assert hw["drivers/net/lib"] == "drivers/net/lib" and hw["net/forwarding/lib.sh"] == "net/forwarding/lib.sh"
    # every other target runs where the guest starts, and makes its own namespaces
    assert suite_env("net", links).netns is None and suite_env("net", links).env == {}
    assert suite_env("drivers/net", []).netns is None  # no NIC: NetDrvEpEnv makes netdevsim's
    # net's own Python tests (nl_netdev.py, bpf_offload.py) import YNL from net/lib as installed
    assert staged_paths("net") == {"kselftest": "kselftest", "net": "net", "net/lib/ynl": "../../net/ynl",
                                   "net/lib/specs": "../../../Documentation/netlink/specs"}


def test_side_b_on_another_host_is_the_driver_tests_ssh_remote():
    from lab.remote.dual import SSH_NAME
    a = make_links(["virtio"])[0]
    te = suite_env("drivers/net", [a], remote="ssh")
    assert te.netns == a.ns("a") and te.env["NETIF"] == "eth0"
    assert (te.env["REMOTE_TYPE"], te.env["REMOTE_ARGS"]) == ("ssh", SSH_NAME)  # what remote/shim/ssh takes to B
    assert te.env["REMOTE_V4"] == a.addr("b")


def test_the_wrapped_script_exports_the_environment_and_quotes_what_it_is_given():
    te = suite_env("drivers/net", make_links(["virtio"]))
    script = te.wrap("echo $NETIF $REMOTE_ARGS")
    assert script.startswith("export NETIF=eth0; ") and f"exec ip netns exec {te.netns} sh -c " in script
    assert "mount -t configfs configfs /sys/kernel/config" in script  # netconsole's targets, under the fresh sysfs
    plain = suite_env("net", []).wrap("echo \"$NETIF\" 'x'")
    out = subprocess.run(["sh", "-c", plain], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}).stdout
    assert out == " x\n"
    odd = type(te)(None, {"NETIF": "a b; touch /nonexistent/x"})  # a value is data, never shell
    out = subprocess.run(["sh", "-c", odd.wrap('printf %s "$NETIF"')], capture_output=True, text=True).stdout
    assert out == "a b; touch /nonexistent/x"
