"""A functional datapath test in ten lines: an ESP (AES-GCM) SA carries TCP traffic over virtio-net."""
import re

import pytest

KEY = "0x" + "11" * 36  # 256-bit AES key + 4-byte salt for rfc4106(gcm(aes))


@pytest.mark.vm
def test_esp_sa_carries_traffic(lab_link):
    for side, src, dst in (("a", "a", "b"), ("b", "a", "b")):
        for s, d, spi in ((src, dst, "0x100"), (dst, src, "0x200")):
            lab_link.ns_run(side, ["ip", "xfrm", "state", "add", "src", lab_link.addr(s), "dst", lab_link.addr(d),
                                   "proto", "esp",
                                   "spi", spi, "mode", "transport", "aead", "rfc4106(gcm(aes))", KEY, "128"])
        lab_link.ns_run(side, ["ip", "xfrm", "policy", "add", "src", lab_link.addr(side), "dst",
                               lab_link.addr("b" if side == "a" else "a"),
                               "dir", "out", "tmpl", "proto", "esp", "mode", "transport"])
    lab_link.ns_run("a", ["ping", "-c", "5", "-i", "0.2", lab_link.addr("b")], timeout=60)
    stats = lab_link.ns_run("a", ["ip", "-s", "xfrm", "state", "get", "src", lab_link.addr("a"), "dst",
                                  lab_link.addr("b"),
                                  "proto", "esp", "spi", "0x100"]).stdout
    # `ip -s xfrm state` prints "<bytes>(bytes), <packets>(packets)": the a->b SA carried the 5 echo requests
    m = re.search(r"(\d+)\s*\(packets\)", stats)
    assert m and int(m.group(1)) == 5, stats
