// SPDX-License-Identifier: GPL-2.0
/*
 * xsk_tx: an AF_XDP transmit generator for dplab, modelled on the kernel's old samples/bpf/xdpsock -t.
 *
 * Fills every UMEM frame once with a valid Ethernet/IPv4/UDP frame, then loops
 * reserve -> submit -> kick (sendto MSG_DONTWAIT) -> reap completions for the given duration,
 * and prints one JSON line: pps, packets completed, submitted, kick errors, XDP_STATISTICS.
 *
 * Size convention (xdpsock's): -s counts the 4-byte FCS, so the frame handed to the NIC is
 * size - 4 bytes (-s 64 sends 60-byte frames, the Ethernet minimum without FCS).
 * Tx-only needs no XDP program: XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD.
 * In generic (SKB) mode 6.1 sends at most 32 descriptors per kick (EAGAIN beyond): -b defaults to 32.
 *
 * -p USEC (paced): one batch, one kick, then sleep USEC: the device drains while the CPU idles, so the
 * process CPU time (CLOCK_PROCESS_CPUTIME_ID; guest instructions under QEMU icount shift=0) counts the
 * transmit work and no spinning on a full ring. cpu_ns_per_packet is that time over packets sent, and
 * "value" becomes packets per CPU second (1e9 / instructions per packet under icount shift=0);
 * kick_again > 0 means some kicks still found the device busy (skbs built for nothing were counted).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lab_clock.h"
#include <xdp/xsk.h>

#define NUM_FRAMES 4096
#define FRAME_SIZE XSK_UMEM__DEFAULT_FRAME_SIZE

struct opts {
	const char *ifname;
	int queue, size, batch, native, zerocopy, frames, pace_us;
	double duration;
	unsigned char dmac[6], smac[6];
	uint32_t saddr, daddr;
};

static int parse_mac(const char *s, unsigned char *mac)
{
	return sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1], &mac[2], &mac[3], &mac[4], &mac[5]) == 6 ? 0 : -1;
}

static uint16_t csum(const void *data, int len)
{
	const uint16_t *p = data;
	uint32_t sum = 0;

	for (; len > 1; len -= 2)
		sum += *p++;
	if (len)
		sum += *(const uint8_t *)p;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

/* Ethernet + IPv4 + UDP (checksum 0: allowed for IPv4) + pattern payload, len bytes in all. */
static void build_frame(unsigned char *f, int len, const struct opts *o)
{
	struct ethhdr *eth = (struct ethhdr *)f;
	struct iphdr *ip = (struct iphdr *)(eth + 1);
	struct udphdr *udp = (struct udphdr *)(ip + 1);
	int i, l3 = len - sizeof(*eth);

	memcpy(eth->h_dest, o->dmac, 6);
	memcpy(eth->h_source, o->smac, 6);
	eth->h_proto = htons(ETH_P_IP);
	memset(ip, 0, sizeof(*ip));
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->tot_len = htons(l3);
	ip->saddr = o->saddr;
	ip->daddr = o->daddr;
	ip->check = csum(ip, sizeof(*ip));
	udp->source = htons(9);
	udp->dest = htons(9);
	udp->len = htons(l3 - sizeof(*ip));
	udp->check = 0;
	for (i = sizeof(*eth) + sizeof(*ip) + sizeof(*udp); i < len; i++)
		f[i] = i & 0xff;
}

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s -i IFNAME [-q QUEUE] [-s SIZE] [-d SECONDS] [-b BATCH] [-S|-N] [-c|-z]\n"
		"          [--dmac MAC] [--smac MAC] [--src IP] [--dst IP]\n"
		"  -s SIZE   frame size counting the 4-byte FCS, as xdpsock (64..%d; default 64)\n"
		"  -S / -N   generic (SKB, default) / native (driver) XDP mode\n"
		"  -c / -z   copy (default) / zerocopy bind\n"
		"  -b BATCH  descriptors per kick (default 32: 6.1's generic-mode limit)\n"
		"  -p USEC   paced: sleep USEC after each kick (cost per packet without spinning on a full ring)\n",
		prog, FRAME_SIZE);
	exit(2);
}

int main(int argc, char **argv)
{
	struct opts o = { .queue = 0, .size = 64, .batch = 32, .duration = 5, .frames = NUM_FRAMES };
	static const struct option lo[] = {
		{ "dmac", required_argument, 0, 1 }, { "smac", required_argument, 0, 2 },
		{ "src", required_argument, 0, 3 }, { "dst", required_argument, 0, 4 }, { 0 } };
	struct xsk_ring_prod tx, fq;
	struct xsk_ring_cons cq;
	struct xsk_umem *umem;
	struct xsk_socket *xsk;
	struct xsk_umem_config ucfg;
	struct xsk_socket_config scfg;
	struct xdp_statistics st;
	socklen_t stlen = sizeof(st);
	unsigned long long submitted = 0, completed = 0, kicks = 0, kick_errors = 0, again = 0;
	unsigned int outstanding = 0, next = 0;
	double t0, t1, c0, c1;
	void *buf;
	int c, i, ret, fd;

	parse_mac("02:00:00:00:00:02", o.dmac);
	parse_mac("02:00:00:00:00:01", o.smac);
	o.saddr = inet_addr("198.18.0.1");
	o.daddr = inet_addr("198.18.0.2");
	while ((c = getopt_long(argc, argv, "i:q:s:d:b:p:SNczh", lo, NULL)) != -1) {
		switch (c) {
		case 'i': o.ifname = optarg; break;
		case 'q': o.queue = atoi(optarg); break;
		case 's': o.size = atoi(optarg); break;
		case 'd': o.duration = atof(optarg); break;
		case 'b': o.batch = atoi(optarg); break;
		case 'p': o.pace_us = atoi(optarg); break;
		case 'S': o.native = 0; break;
		case 'N': o.native = 1; break;
		case 'c': o.zerocopy = 0; break;
		case 'z': o.zerocopy = 1; break;
		case 1: if (parse_mac(optarg, o.dmac)) usage(argv[0]); break;
		case 2: if (parse_mac(optarg, o.smac)) usage(argv[0]); break;
		case 3: o.saddr = inet_addr(optarg); break;
		case 4: o.daddr = inet_addr(optarg); break;
		default: usage(argv[0]);
		}
	}
	if (!o.ifname || o.size < 64 || o.size > FRAME_SIZE || o.batch < 1 || o.batch > 2048 || o.duration <= 0)
		usage(argv[0]);

	buf = mmap(NULL, (size_t)NUM_FRAMES * FRAME_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	memset(&tx, 0, sizeof(tx));	/* the rings must start zeroed */
	memset(&fq, 0, sizeof(fq));
	memset(&cq, 0, sizeof(cq));
	ucfg = (struct xsk_umem_config){ .fill_size = XSK_RING_PROD__DEFAULT_NUM_DESCS,
		.comp_size = XSK_RING_CONS__DEFAULT_NUM_DESCS, .frame_size = FRAME_SIZE,
		.frame_headroom = 0, .flags = 0 };
	ret = xsk_umem__create(&umem, buf, (__u64)NUM_FRAMES * FRAME_SIZE, &fq, &cq, &ucfg);
	if (ret) {
		fprintf(stderr, "{\"error\": \"xsk_umem__create: %s\"}\n", strerror(-ret));
		return 1;
	}
	memset(&scfg, 0, sizeof(scfg));
	scfg.rx_size = XSK_RING_CONS__DEFAULT_NUM_DESCS;
	scfg.tx_size = XSK_RING_PROD__DEFAULT_NUM_DESCS;
	scfg.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;
	scfg.xdp_flags = o.native ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
	scfg.bind_flags = o.zerocopy ? XDP_ZEROCOPY : XDP_COPY;
	ret = xsk_socket__create(&xsk, o.ifname, o.queue, umem, NULL, &tx, &scfg);
	if (ret) {
		printf("{\"error\": \"xsk_socket__create on %s queue %d (%s, %s): %s\"}\n", o.ifname, o.queue,
		       o.native ? "native" : "skb", o.zerocopy ? "zerocopy" : "copy", strerror(-ret));
		return 1;
	}
	fd = xsk_socket__fd(xsk);
	for (i = 0; i < NUM_FRAMES; i++)
		build_frame((unsigned char *)buf + (size_t)i * FRAME_SIZE, o.size - 4, &o);

	t0 = now();
	c0 = cpu_now();
	t1 = t0 + o.duration;
	if (o.pace_us)
		profile_open();
	while (now() < t1) {
		__u32 idx, n, cidx;

		n = xsk_ring_prod__reserve(&tx, o.batch, &idx);
		for (i = 0; i < (int)n; i++) {
			struct xdp_desc *d = xsk_ring_prod__tx_desc(&tx, idx + i);

			d->addr = (__u64)next * FRAME_SIZE;
			d->len = o.size - 4;
			next = (next + 1) % NUM_FRAMES;
		}
		if (n) {
			xsk_ring_prod__submit(&tx, n);
			submitted += n;
			outstanding += n;
		}
		if (outstanding) {
			kicks++;
			if (sendto(fd, NULL, 0, MSG_DONTWAIT, NULL, 0) < 0) {
				if (errno == EAGAIN || errno == EBUSY || errno == ENOBUFS)
					again++;
				else
					kick_errors++;
			}
		}
		n = xsk_ring_cons__peek(&cq, XSK_RING_CONS__DEFAULT_NUM_DESCS, &cidx);
		if (n) {
			xsk_ring_cons__release(&cq, n);
			outstanding -= n;
			completed += n;
		}
		pace(o.pace_us);
	}
	if (o.pace_us)
		profile_close();
	c1 = cpu_now() - c0;
	t1 = now() - t0;
	memset(&st, 0, sizeof(st));
	getsockopt(fd, SOL_XDP, XDP_STATISTICS, &st, &stlen);
	printf("{\"value\": %.1f, \"value_basis\": \"%s\", \"unit\": \"%s\", \"pps\": %.1f, \"packets\": %llu, \"submitted\": %llu, \"kicks\": %llu, "
	       "\"kick_again\": %llu, \"kick_errors\": %llu, \"seconds\": %.3f, \"cpu_seconds\": %.6f, "
	       "\"cpu_ns_per_packet\": %.1f, \"pace_us\": %d, \"size\": %d, \"frame_len\": %d, "
	       "\"mode\": \"%s\", \"bind\": \"%s\", \"batch\": %d, \"xdp_stats\": {\"rx_dropped\": %llu, "
	       "\"rx_invalid_descs\": %llu, \"tx_invalid_descs\": %llu, \"rx_ring_full\": %llu, "
	       "\"rx_fill_ring_empty_descs\": %llu, \"tx_ring_empty_descs\": %llu}}\n",
	       o.pace_us && c1 > 0 ? completed / c1 : completed / t1, o.pace_us ? "cpu" : "wall", o.pace_us ? "pkts/cpu-s" : "pps", completed / t1, completed, submitted, kicks, again, kick_errors, t1, c1,
	       completed ? c1 * 1e9 / completed : 0.0, o.pace_us, o.size, o.size - 4,
	       o.native ? "native" : "skb", o.zerocopy ? "zerocopy" : "copy", o.batch,
	       (unsigned long long)st.rx_dropped, (unsigned long long)st.rx_invalid_descs,
	       (unsigned long long)st.tx_invalid_descs, (unsigned long long)st.rx_ring_full,
	       (unsigned long long)st.rx_fill_ring_empty_descs, (unsigned long long)st.tx_ring_empty_descs);
	xsk_socket__delete(xsk);
	xsk_umem__delete(umem);
	return kick_errors ? 1 : 0;
}
