// SPDX-License-Identifier: GPL-2.0
/* dplab_window_write FILE TEXT: write TEXT to FILE inside one window of the lab's instruction profiler
 * (tools/insn_plugin.c): the window holds the write system call and what the kernel does before it returns,
 * e.g. pktgen's whole run for `start` into /proc/net/pktgen/pgctrl, and nothing of a shell or a fork. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lab_clock.h"

int main(int argc, char **argv)
{
	ssize_t n;
	int fd;

	if (argc != 3) {
		fprintf(stderr, "usage: dplab_window_write FILE TEXT\n");
		return 2;
	}
	fd = open(argv[1], O_WRONLY);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	profile_open();
	n = write(fd, argv[2], strlen(argv[2]));
	profile_close();
	if (n < 0) {
		perror("write");
		return 1;
	}
	return close(fd) ? 1 : 0;
}
