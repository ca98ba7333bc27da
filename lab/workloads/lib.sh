# dplab guest helpers (prepended to every rendered script).
# nsx NS CMD...: run CMD in network namespace NS.
nsx() { ns=$1; shift; ip netns exec "$ns" "$@"; }
# wait_tcp_listen NS PORT: until something listens on PORT in NS (max 10 s).
wait_tcp_listen() { i=0; while [ $i -lt 100 ]; do ip netns exec "$1" ss -Hltn "sport = :$2" | grep -q . && return 0; i=$((i+1)); sleep 0.1; done; echo "nothing listens on $2 in $1" >&2; return 1; }
# wait_udp_listen NS PORT
wait_udp_listen() { i=0; while [ $i -lt 100 ]; do ip netns exec "$1" ss -Hlun "sport = :$2" | grep -q . && return 0; i=$((i+1)); sleep 0.1; done; echo "nothing listens on udp $2 in $1" >&2; return 1; }
