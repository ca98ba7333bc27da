// SPDX-License-Identifier: GPL-2.0
/*
 * tcp_stream: a fixed-size TCP transfer for dplab's deterministic mode, sender and receiver in one guest.
 *
 * Receiver (-l): listen on ADDR:PORT, and for every connection read until EOF, then close it. With -D it
 * detaches once listening (so the caller can go on), and serves until killed.
 * Sender (-c): connect (the handshake is outside the window), sleep to the next whole 1.024 s of the guest's
 * monotonic clock (so the transfer starts at the same phase of the kernel's ticks and timers every time, not
 * when the lab's command happened to arrive), then, inside one window of the lab's
 * instruction profiler (tools/insn_plugin.c), write -b bytes in -w byte writes, shut the write side and read
 * until the receiver closes: the window holds the whole transfer, the sender's and the receiver's work
 * (both run on the guest's one vCPU), its ACKs and the FIN exchange. Prints one JSON line: Gbit/s by the
 * guest clock, bytes and KiB moved (the profiler's unit: instructions per KiB of payload).
 * IPv6 when the address has a colon.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lab_addr.h"
#include "lab_clock.h"

#define MAX_WRITE (1 << 20)

static void usage(void)
{
	fprintf(stderr,
		"usage: tcp_stream -l ADDR [-p PORT] [-D]                     (receiver)\n"
		"       tcp_stream -c ADDR [-p PORT] -b BYTES [-w WRITE]      (sender)\n"
		"  -b BYTES  payload to send (1..2^40)\n"
		"  -w WRITE  bytes per write() (1..%d, default 65536)\n"
		"  -D        receiver: detach once listening\n", MAX_WRITE);
	exit(2);
}

static long long number(const char *s, long long min, long long max, const char *what)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || end == s || v < min || v > max) {
		fprintf(stderr, "tcp_stream: %s %s: not a whole number in %lld..%lld\n", what, s, min, max);
		exit(2);
	}
	return v;
}

static int receiver(const char *addr, int port, int detach)
{
	static char buf[1 << 16];
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	if (make_addr(addr, port, &ss, &len))
		usage();
	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 8)) {
		perror("tcp_stream: listen");
		return 1;
	}
	if (detach && daemon(0, 0)) {
		perror("tcp_stream: daemon");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		int c = accept(fd, NULL, NULL);
		ssize_t n;

		if (c < 0) {
			if (errno == EINTR)
				continue;
			perror("tcp_stream: accept");
			return 1;
		}
		while ((n = read(c, buf, sizeof(buf))) > 0)
			;
		close(c);
	}
}

/* sleep until the monotonic clock is a whole multiple of `ns` */
static void align(long ns)
{
	struct timespec ts;
	long long t;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	t = ((ts.tv_sec * 1000000000LL + ts.tv_nsec) / ns + 1) * ns;
	ts.tv_sec = t / 1000000000LL;
	ts.tv_nsec = t % 1000000000LL;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static int sender(const char *addr, int port, long long bytes, int wsize)
{
	static char buf[MAX_WRITE];
	struct sockaddr_storage ss;
	long long left = bytes;
	socklen_t len;
	double t0, t1, c0, c1;
	ssize_t n;
	int fd;

	if (make_addr(addr, port, &ss, &len))
		usage();
	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len)) {
		fprintf(stderr, "tcp_stream: connect %s port %d: %s\n", addr, port, strerror(errno));
		return 1;
	}
	memset(buf, 0xa5, sizeof(buf));
	align(1024000000L);
	t0 = now();
	c0 = cpu_now();
	profile_open();
	while (left > 0) {
		n = write(fd, buf, left < wsize ? left : wsize);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		left -= n;
	}
	if (!left)
		shutdown(fd, SHUT_WR);
	while (!left && (n = read(fd, buf, sizeof(buf))) != 0 && !(n < 0 && errno != EINTR))
		;
	profile_close();
	c1 = cpu_now();
	t1 = now();
	if (left) {
		fprintf(stderr, "tcp_stream: write failed with %lld of %lld bytes left: %s\n", left, bytes, strerror(errno));
		return 1;
	}
	close(fd);
	printf("{\"value\": %.6f, \"bytes\": %lld, \"kibibytes\": %.6f, \"seconds\": %.9f, \"sender_cpu_s\": %.9f}\n",
	       bytes * 8 / (t1 - t0) / 1e9, bytes, bytes / 1024.0, t1 - t0, c1 - c0);
	return 0;
}

int main(int argc, char **argv)
{
	const char *listen_addr = NULL, *dst = NULL;
	long long bytes = 0;
	int port = 5301, wsize = 65536, detach = 0, o;

	while ((o = getopt(argc, argv, "l:c:p:b:w:D")) != -1) {
		switch (o) {
		case 'l': listen_addr = optarg; break;
		case 'c': dst = optarg; break;
		case 'p': port = number(optarg, 1, 65535, "-p"); break;
		case 'b': bytes = number(optarg, 1, 1LL << 40, "-b"); break;
		case 'w': wsize = number(optarg, 1, MAX_WRITE, "-w"); break;
		case 'D': detach = 1; break;
		default: usage();
		}
	}
	if (optind != argc || !listen_addr == !dst || (dst && !bytes))
		usage();
	return listen_addr ? receiver(listen_addr, port, detach) : sender(dst, port, bytes, wsize);
}
