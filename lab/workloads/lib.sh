# dplab guest helpers (prepended to every rendered script).
# nsx NS CMD...: run CMD in network namespace NS.
nsx() { ns=$1; shift; ip netns exec "$ns" "$@"; }
# pktgen_set NS SETTING...: pktgen in NS reset, its thread 0 given eth0 alone, configured with each SETTING
# ("count 1000", "dst_mac ..."); a setting pktgen refuses is named. Start it with `echo start` to
# /proc/net/pktgen/pgctrl inside NS (that file is per namespace).
pktgen_set() {
  ip netns exec "$1" sh -ec 'P=/proc/net/pktgen; echo reset > $P/pgctrl; echo "add_device eth0" > $P/kpktgend_0; shift
    for c in "$@"; do echo "$c" > $P/eth0 || { echo "pktgen refused: $c" >&2; exit 1; }; done' sh "$@"
}
# pktgen_for NS SECONDS: pktgen in NS started, stopped after SECONDS (a count of 0 sends until then).
pktgen_for() { ip netns exec "$1" sh -c 'P=/proc/net/pktgen; (sleep "$1"; echo stop > $P/pgctrl) & echo start > $P/pgctrl; wait' sh "$2"; }
# wait_tcp_listen NS PORT: until something listens on PORT in NS (max 10 s).
wait_tcp_listen() { i=0; while [ $i -lt 100 ]; do ip netns exec "$1" ss -Hltn "sport = :$2" | grep -q . && return 0; i=$((i+1)); sleep 0.1; done; echo "nothing listens on $2 in $1" >&2; return 1; }
# wait_udp_listen NS PORT
wait_udp_listen() { i=0; while [ $i -lt 100 ]; do ip netns exec "$1" ss -Hlun "sport = :$2" | grep -q . && return 0; i=$((i+1)); sleep 0.1; done; echo "nothing listens on udp $2 in $1" >&2; return 1; }
# tcp_stream_ready NS_A ADDR_A MAC_A NS_B ADDR_B MAC_B PORT: a tcp_stream receiver on ADDR_B:PORT in NS_B, ready for
# a transfer from NS_A that depends on nothing before it: no TCP metrics cached or saved (a connection would start
# from the last one's cwnd and ssthresh), CUBIC's HyStart off (it ends slow start on ACK spacing measured in
# microseconds: a few instructions more before the window moved its exit and every ACK after it), neighbours pinned
# both ways, the receive softirq's poll loop bounded by packets only (its default 2 ms of time cut long ESP polls at
# varying points: segments then reached TCP out of order in some cells), the receiver SCHED_FIFO (it reads as soon
# as data wakes it, as a receiver on a CPU of its own would: under CFS its reads, and the window updates they send,
# interleaved with the sender as the scheduler's state from before the window had it), then one warm-up transfer.
tcp_stream_ready() {
  [ -w /sys/module/tcp_cubic/parameters/hystart ] && echo 0 > /sys/module/tcp_cubic/parameters/hystart
  sysctl -qw net.core.netdev_budget_usecs=1000000
  for ns in "$1" "$4"; do ip netns exec "$ns" sysctl -qw net.ipv4.tcp_no_metrics_save=1; ip -n "$ns" tcp_metrics flush all 2>/dev/null || true; done
  ip -n "$1" neigh replace "$5" lladdr "$6" dev eth0 nud permanent
  ip -n "$4" neigh replace "$2" lladdr "$3" dev eth0 nud permanent
  ip netns exec "$4" chrt -f 1 tcp_stream -l "$5" -p "$7" -D
  wait_tcp_listen "$4" "$7"
  ip netns exec "$1" tcp_stream -c "$5" -p "$7" -b 1048576 > /dev/null
}
