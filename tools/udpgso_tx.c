// SPDX-License-Identifier: GPL-2.0
/*
 * udpgso_tx: UDP sender (and sink) for dplab, after the kernel's
 * tools/testing/selftests/net/udpgso_bench_tx.c.
 *
 * Sender: for the given duration, send UDP datagrams of -s bytes of payload to DST:PORT, either one per
 * send() (plain) or, with -g, as one send() of up to 64 KB that the stack segments into -s byte
 * datagrams (UDP_SEGMENT, "UDP GSO"): the header work and the route lookup are done once per
 * superpacket. Prints one JSON line: Gbit/s of payload offered, calls, datagrams, bytes.
 *
 * -p USEC (paced): sleep USEC after each send(); with it the JSON's value is datagrams per sender CPU second
 * (CLOCK_PROCESS_CPUTIME_ID: guest instructions under QEMU icount shift=0) and cpu_ns_per_packet is the
 * sender's CPU time per datagram, so the work of one superpacket and of 46 plain sends can be compared.
 *
 * Sink (-r): count datagrams and bytes received on PORT for the duration (or until 1 s without any
 * after the first); print one JSON line.
 * IPv6 when the address has a colon.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lab_addr.h"
#include "lab_clock.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#define MAX_SUPER 65000	/* payload per GSO send: under the 64 KB IP limit, as udpgso_bench_tx */

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s -D DST [-p PORT] [-s SIZE] [-g] [-d SECONDS] [-P USEC]   (send)\n"
		"       %s -r [-B ADDR] [-p PORT] [-d SECONDS]              (sink)\n"
		"  -s SIZE  UDP payload bytes per datagram (1..65000, default 1400)\n"
		"  -g       UDP GSO: send %d-byte superpackets segmented by the stack into SIZE datagrams\n"
		"  -P USEC  paced: sleep USEC after each send(); value = datagrams per sender CPU second\n",
		prog, prog, MAX_SUPER);
	exit(2);
}

static int sink(const char *bind_addr, int port, double duration)
{
	static char buf[65536];
	unsigned long long dgrams = 0, bytes = 0;
	struct sockaddr_storage ss;
	struct timeval tv = { .tv_sec = 0, .tv_usec = 200000 };
	socklen_t len;
	double t0 = 0, t_end, t_last = 0;
	int fd, rcvbuf = 4 << 20;

	if (make_addr(bind_addr, port, &ss, &len))
		usage("udpgso_tx");
	fd = socket(ss.ss_family, SOCK_DGRAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len)) {
		printf("{\"error\": \"bind %s:%d: %s\"}\n", bind_addr, port, strerror(errno));
		return 1;
	}
	t_end = now() + duration;
	while (now() < t_end) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n < 0) {
			if (dgrams && now() - t_last > 1.0)
				break;	/* the sender is done: no need to wait out the duration */
			continue;
		}
		if (!dgrams)
			t0 = now();
		t_last = now();
		dgrams++;
		bytes += n;
	}
	printf("{\"datagrams\": %llu, \"bytes\": %llu, \"seconds\": %.3f, \"gbps\": %.4f}\n", dgrams, bytes,
	       t_last - t0, t_last > t0 ? bytes * 8 / (t_last - t0) / 1e9 : 0.0);
	return 0;
}

int main(int argc, char **argv)
{
	const char *dst = NULL, *bind_addr = "0.0.0.0";
	int c, fd, port = 9000, size = 1400, gso = 0, receive = 0, len, pace_us = 0;
	unsigned long long calls = 0, dgrams = 0, bytes = 0, errs = 0;
	double duration = 5, t0, t_end, secs, c0, cpu;
	struct sockaddr_storage ss;
	socklen_t slen;
	static char buf[MAX_SUPER];

	while ((c = getopt(argc, argv, "D:B:p:s:gd:rP:h")) != -1) {
		switch (c) {
		case 'D': dst = optarg; break;
		case 'B': bind_addr = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 's': size = atoi(optarg); break;
		case 'g': gso = 1; break;
		case 'd': duration = atof(optarg); break;
		case 'r': receive = 1; break;
		case 'P': pace_us = atoi(optarg); break;
		default: usage(argv[0]);
		}
	}
	if (duration <= 0 || port <= 0 || port > 65535 || size < 1 || size > MAX_SUPER)
		usage(argv[0]);
	if (receive)
		return sink(bind_addr, port, duration);
	if (!dst || make_addr(dst, port, &ss, &slen))
		usage(argv[0]);
	fd = socket(ss.ss_family, SOCK_DGRAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, slen)) {
		printf("{\"error\": \"connect %s:%d: %s\"}\n", dst, port, strerror(errno));
		return 1;
	}
	if (gso && setsockopt(fd, SOL_UDP, UDP_SEGMENT, &size, sizeof(size))) {
		printf("{\"error\": \"setsockopt UDP_SEGMENT %d: %s (kernel without UDP GSO?)\"}\n", size, strerror(errno));
		return 1;
	}
	/* a GSO send carries as many whole segments as fit (the kernel allows at most 64 segments) */
	len = gso ? (MAX_SUPER / size < 64 ? MAX_SUPER / size : 64) * size : size;
	if (!len)
		len = size;
	memset(buf, 'd', sizeof(buf));
	t0 = now();
	c0 = cpu_now();
	t_end = t0 + duration;
	if (pace_us)
		profile_open();
	while (now() < t_end) {
		ssize_t n = send(fd, buf, len, 0);

		pace(pace_us);
		if (n < 0) {
			if (errno != ENOBUFS && errno != EAGAIN && errno != ECONNREFUSED) {
				printf("{\"error\": \"send %d bytes: %s\"}\n", len, strerror(errno));
				return 1;
			}
			errs++;
			continue;
		}
		calls++;
		bytes += n;
		dgrams += gso ? (n + size - 1) / size : 1;
	}
	if (pace_us)
		profile_close();
	secs = now() - t0;
	cpu = cpu_now() - c0;
	if (pace_us) {	/* the sender's cost, not its rate: datagrams per CPU second */
		printf("{\"value\": %.1f, \"value_basis\": \"cpu\", \"unit\": \"dgrams/cpu-s\", \"cpu_seconds\": %.6f, \"cpu_ns_per_packet\": %.1f, ",
		       cpu > 0 ? dgrams / cpu : 0.0, cpu, dgrams ? cpu * 1e9 / dgrams : 0.0);
	} else {
		printf("{\"value\": %.4f, \"value_basis\": \"wall\", \"cpu_seconds\": %.6f, \"cpu_ns_per_packet\": %.1f, ",
		       bytes * 8 / secs / 1e9, cpu, dgrams ? cpu * 1e9 / dgrams : 0.0);
	}
	printf("\"gbps\": %.4f, \"calls\": %llu, \"datagrams\": %llu, \"bytes\": %llu, "
	       "\"send_errors\": %llu, \"seconds\": %.3f, \"size\": %d, \"gso\": %s, \"bytes_per_call\": %d, "
	       "\"datagrams_per_call\": %.2f, \"pace_us\": %d}\n",
	       bytes * 8 / secs / 1e9, calls, dgrams, bytes, errs, secs, size,
	       gso ? "true" : "false", len, calls ? (double)dgrams / calls : 0.0, pace_us);
	return 0;
}
