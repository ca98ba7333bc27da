// SPDX-License-Identifier: GPL-2.0
/* dplab_window_write FILE TEXT: write TEXT and a newline (as echo does) to FILE in one write() inside one window of the lab's instruction profiler
 * (tools/insn_plugin.c): the window holds the write system call and what the kernel does before it returns,
 * e.g. pktgen's whole run for `start` into /proc/net/pktgen/pgctrl, and nothing of a shell or a fork. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "lab_clock.h"

int main(int argc, char **argv)
{
	char buf[4096];
	ssize_t n;
	int fd, len;

	if (argc != 3) {
		fprintf(stderr, "usage: dplab_window_write FILE TEXT\n");
		return 2;
	}
	len = snprintf(buf, sizeof(buf), "%s\n", argv[2]);
	if (len < 0 || len >= (int)sizeof(buf)) {
		fprintf(stderr, "dplab_window_write: TEXT longer than %zu bytes\n", sizeof(buf) - 2);
		return 2;
	}
	fd = open(argv[1], O_WRONLY);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	profile_open();
	n = write(fd, buf, len);
	profile_close();
	if (n < 0) {
		perror("write");
		return 1;
	}
	return close(fd) ? 1 : 0;
}
