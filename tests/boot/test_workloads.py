"""Every workload's datapath in a real guest: ESP, tunnels, UDP GSO, pktgen, XDP, kselftests."""
from pathlib import Path

import pytest

from lab.errors import ConfigError
from lab.runner import RunOptions, run_testcase
from lab.workloads import load_testcase
from tests.support import ROOT

pytestmark = [pytest.mark.vm, pytest.mark.build]


def run(tmp_path, accel, name, links=("virtio",), kernel="stock", **axes):
    tc = load_testcase(ROOT / "testcases" / f"{name}.yaml")
    tc.links = list(links)
    tc.axes = {**tc.axes, **axes}
    rd = run_testcase(tc, RunOptions(kernels=[kernel], repeat=1, duration=1, accel=accel, runs_root=str(tmp_path)),
                      say=print)
    recs = [r for r in rd.results() if not r.get("retried")]
    for r in recs:
        assert r["status"] == "ok", r.get("error")
    return recs


def test_esp_gcm_carries_iperf3_traffic(tmp_path, accel):
    [r] = run(tmp_path, accel, "ipsec", alg=["gcm"], esp_mode=["transport"])
    c = r["counters"]
    assert r["value"] > 0 and c["x.collect.sa_bytes"] > 0.9 * r["extra"]["bytes"]  # the SA carried the payload
    assert c["a.link.tx_bytes"] >= c["x.collect.sa_bytes"]
    # the receiving SA decrypted it all: no integrity or replay failures
    assert c["x.collect.sa_rx_bytes"] > 0.9 * c["x.collect.sa_bytes"] and c["x.collect.sa_rx_failed"] == 0
    assert c["x.collect.sa_rx_replay"] == 0


def test_esp_tunnel_mode_and_a_missing_algorithm_names_its_kconfig_option(tmp_path, accel):
    [r] = run(tmp_path / "tunnel", accel, "ipsec", alg=["null"], esp_mode=["tunnel"])
    assert r["value"] > 0 and r["counters"]["x.collect.sa_bytes"] > 0.9 * r["extra"]["bytes"]
    # AES-CCM is not in kconfigs/lab.config: the preflight names the option before anything boots
    tc = load_testcase(ROOT / "testcases/ipsec.yaml")
    with pytest.raises(ConfigError, match=r"lacks options .*\n  CONFIG_CRYPTO_CCM \(alg=ccm\)") as e:
        run_testcase(tc, RunOptions(kernels=["stock"], repeat=1, duration=1, accel=accel, links=["virtio"],
                                    axes={"alg": ["ccm"], "esp_mode": ["transport"]}, runs_root=str(tmp_path / "ccm")),
                     say=print)
    assert "CONFIG_CRYPTO_AES" not in str(e.value) and not (tmp_path / "ccm").exists()  # no run dir: nothing ran


def test_fou_on_debians_modular_kernel_loads_its_modules(tmp_path, accel):
    """Debian builds fou and ipip as modules (the lab kernel builds them in): the run loads what the cells need."""
    [on] = run(tmp_path, accel, "tunnel", kernel="debian", tunnel=["fou"], gso=["on"])
    assert on["value"] > 0 and on["counters"]["a.link.tx_bytes"] > 0.9 * on["extra"]["bytes"]
    mods = next(iter(_manifest(tmp_path)["preflight"]["modules"].values()))
    assert {"fou", "ipip", "virtio_net"} <= set(mods), mods


def _manifest(root):
    import json
    [path] = Path(root).glob("*/manifest.json")
    return json.loads(path.read_text())


def test_udp_gso_sends_superpackets_and_the_sink_receives_v4_and_v6(tmp_path, accel):
    recs = run(tmp_path, accel, "udpgso", gso=["off", "on"], ip=[4, 6])
    by = {(r["params"]["gso"], r["params"]["ip"]): r for r in recs}
    assert len(by) == 4
    for (gso, ip), r in by.items():
        x = r["extra"]
        assert x["datagrams_per_call"] == (46 if gso == "on" else 1), x  # 64400 B / 1400 B per send()
        assert r["counters"]["x.collect.sink_datagrams"] > 0.05 * x["datagrams"], (gso, ip)
        # every datagram leaves as its own MTU-sized packet: segmented by the stack, not the NIC
        assert r["counters"]["a.link.tx_packets"] >= 0.9 * x["datagrams"], (gso, ip)


def test_wireguard_and_vxlan_pass_traffic_and_gro_off_means_more_packets_per_byte(tmp_path, accel):
    recs = run(tmp_path, accel, "tunnel", tunnel=["wireguard", "vxlan"], gso=["on", "off"])
    by = {(r["params"]["tunnel"], r["params"]["gso"]): r for r in recs}
    assert set(by) == {("wireguard", "on"), ("wireguard", "off"), ("vxlan", "on"), ("vxlan", "off")}
    for r in recs:
        assert r["value"] > 0 and r["counters"]["x.collect.tun_b_rx_bytes"] > 100_000
    # The receiver's VXLAN device sees GRO superpackets when offload is on, every segment when off (measured:
    # 29 vs 690 packets per MB). The underlay carries MTU-sized packets either way here: virtio-net does
    # not offer UDP tunnel segmentation, so tunnel GSO is segmented in software before the driver.
    ppb = {k: r["counters"]["x.collect.tun_b_rx_packets"] / r["counters"]["x.collect.tun_b_rx_bytes"] for k,
           r in by.items()}
    assert ppb[("vxlan", "off")] > 3 * ppb[("vxlan", "on")]


def test_pktgen_bursts_ring_the_virtio_doorbell_at_most_once_a_burst(tmp_path, accel):
    """Wall clock: pktgen's burst reaches virtio-net as xmit_more, so burst 32 kicks at most once per 32 packets.
    Burst 1's kicks per packet are host timing (the host turns notifications off while it drains the ring: 0.11-0.22
    on a quiet host, 0.008 in a CI run), so the comparison is in instructions (test_deterministic's bulk test)."""
    recs = run(tmp_path, accel, "bulk", burst=[1, 32], xmit_mode=["start_xmit"], size=[64])
    by = {r["params"]["burst"]: r for r in recs}
    for r in recs:
        c = r["counters"]
        assert abs(c["a.link.tx_packets"] - r["extra"]["packets"]) <= 0.01 * r["extra"]["packets"] + 20
        assert c["b.link.rx_packets"] > 0
    # the peer keeps up with single packets; at burst 32 under TCG the sender outruns it (measured: 62k of 184k
    # arrived), which is a finding the record keeps, not a lab failure
    c1 = by[1]["counters"]
    assert c1["b.link.rx_packets"] >= 0.9 * c1["a.link.tx_packets"]
    kicks = {b: r["counters"]["a.ethtool.tx_queue_0_kicks"] / r["counters"]["a.link.tx_packets"] for b, r in by.items()}
    print(f"virtio tx kicks per packet: burst 1 {kicks[1]:.4f}, burst 32 {kicks[32]:.4f}")
    # measured 0.014-0.016 and 0.007 (wall clock), 0.031 (deterministic); no xmit_more: burst 1's 0.11-0.22
    assert 0 < kicks[32] <= 1.1 / 32, kicks


def test_xdp_drops_before_the_stack_nft_in_it(tmp_path, accel):
    recs = run(tmp_path, accel, "xdp-rx", kernel="debian")  # xdp-bench needs kernel BTF
    by = {r["params"]["drop"]: r for r in recs}
    xdp, stack = by["xdp"]["counters"], by["stack"]["counters"]
    assert xdp["b.link.rx_packets"] > 1000 and stack["b.link.rx_packets"] > 1000
    assert xdp["b.snmp.IpInReceives"] < 0.01 * xdp["b.link.rx_packets"]      # XDP: never reached IP
    assert stack["x.collect.nft_drops"] >= 0.95 * stack["b.snmp.IpInReceives"] > 0  # stack: IP saw them, nft dropped


@pytest.mark.slow
def test_kernel_selftests_run_across_guests_as_records_ktap_and_nipa_json(tmp_path, accel):
    """lab selftest: two guests with the lab's link take tests from one queue, kselftest's own runner in each; a
    test that cannot pass on this kernel (ipsec needs veth, tun needs CONFIG_TUN: the lab kernel leaves both out)
    fails with its output after one retry, tun's own results are its subtests, nipa.json as netdev's CI writes it."""
    import json

    from lab.report.html import render_report
    from lab.selftest import run_selftests
    rd = run_selftests("stock", "net:udpgso.sh,ipsec,tun", runs_root=str(tmp_path), accel=accel, jobs=2, say=print)
    recs = {r["test"]: r for r in rd.results()}
    ktap_text = (rd.path / "selftests.ktap").read_text()
    assert recs["udpgso.sh"]["status"] == "pass" and "ipv4 tx:1472" in ktap_text, recs["udpgso.sh"]
    assert (recs["ipsec"]["status"], recs["ipsec"]["retry"]) == ("fail", "fail"), recs["ipsec"]
    assert "veth" in recs["ipsec"]["output_tail"], recs["ipsec"]
    sub = recs["tun"]["subtests"]  # kselftest_harness's own TAP, one level down
    assert len(sub) == 5 and {s["status"] for s in sub} == {"fail"} and "can't open tun" in recs["tun"]["output_tail"]
    ktap = ktap_text.splitlines()
    assert ktap[:2] == ["TAP version 13", "1..3"] and sum(line.startswith(("ok ", "not ok ")) for line in ktap) == 3
    m = json.loads((rd.path / "manifest.json").read_text())
    assert m["kind"] == "selftest" and m["jobs"] == 2 and m["links"] == ["virtio"]
    assert m["tcg_factor"] >= (2 if m["accel"] == "tcg" else 1)  # measured: 6-16x under TCG here
    assert m["test_timeout"]["scaled"] == int(1500 * m["tcg_factor"])
    assert (rd.guest_dir / "kselftest/net/settings").read_text() == f"timeout={m['test_timeout']['scaled']}\n"
    nipa = {e["test"]: e for e in json.loads((rd.path / "nipa.json").read_text())["results"]}
    assert set(nipa) == {"udpgso-sh", "ipsec", "tun"} and {e["group"] for e in nipa.values()} == {"selftests-net"}
    assert nipa["tun"]["result"] == "fail" and len(nipa["tun"]["results"]) == 5 and nipa["ipsec"]["retry"] == "fail"
    render_report([rd.path], tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text()
    assert 'id="selftests"' in html and "udpgso.sh" in html and "Failed to create veth device" in html
    assert "5 fail" in html  # tun's own results, counted
