"""Counters around each measurement: perf stat, ethtool -S, link stats, nstat-style SNMP, softnet."""
