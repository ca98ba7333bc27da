"""Delivery on the lab's link: what a workload sent against what arrived, so a datapath that silently loses
packets fails its cell instead of passing as a little slower.

A back-to-back lab link loses nothing by itself: a datagram the sender's stack accepted and the receiver never
saw is a functional failure (with the counts), unless the testcase declares where loss is expected
(`loss: {accounted_by: [counter, ...]}`, e.g. the receiver's socket drop counters when it cannot keep up), and
then those counters must account for every lost one.
"""
from dataclasses import dataclass


@dataclass
class Delivery:
    source: str     # where the counts come from
    sent: int
    arrived: int

    @property
    def lost(self):
        return max(0, self.sent - self.arrived)

    def as_dict(self):
        return {"source": self.source, "sent": self.sent, "arrived": self.arrived, "lost": self.lost}


def _num(v):
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def delivery(value, counters):
    """The cell's Delivery from its workload's own counts, or None where the workload counts no delivery:
    iperf3 UDP (its receiver's lost datagrams), the UDP GSO sink (datagrams received vs sent), pktgen (packets
    sent vs the peer NIC's received packets)."""
    udp = value.get("protocol") == "UDP"
    if udp and _num(value.get("packets")) is not None and _num(value.get("lost_packets")) is not None:
        return Delivery("iperf3 receiver", int(value["packets"]), int(value["packets"] - value["lost_packets"]))
    sink = _num(counters.get("x.collect.sink_datagrams"))
    if sink is not None and _num(value.get("datagrams")) is not None:
        return Delivery("udpgso sink", int(value["datagrams"]), int(sink))
    if _num(value.get("usec")) is not None and _num(value.get("packets")) is not None \
            and _num(counters.get("b.link.rx_packets")) is not None:
        return Delivery("pktgen vs b.link.rx_packets", int(value["packets"]), int(counters["b.link.rx_packets"]))
    return None


def loss_problem(d, counters, loss):
    """None if every packet arrived or the testcase's declared counters account for the lost ones; else the
    failure's message with the counts."""
    if d is None or d.lost == 0:
        return None
    names = list((loss or {}).get("accounted_by") or [])
    accounted = sum(max(0, _num(counters.get(n)) or 0) for n in names)
    if names and accounted >= d.lost:
        return None
    why = (f"declared counters {', '.join(names)} account for {accounted:g}" if names
           else "the testcase declares no loss (loss: {accounted_by: [...]})")
    return (f"{d.lost} of {d.sent} sent vanished on the lab's link ({d.source}: {d.arrived} arrived); {why}")
