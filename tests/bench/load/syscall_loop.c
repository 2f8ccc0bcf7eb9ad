/* The cost of syscalls that are not traced traffic: spanwire's syscall
 * tracepoints fire for every read on the node, and must give up quickly on
 * anything that is not a TCP socket. Reads 1 byte from /dev/zero N times and
 * prints the mean nanoseconds per read.
 * Usage: syscall_loop [N]   (default 2,000,000) */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 2000000;
	int fd = open("/dev/zero", O_RDONLY);
	if (fd < 0 || n <= 0) {
		perror("syscall_loop");
		return 1;
	}
	char byte;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++) {
		if (read(fd, &byte, 1) != 1) {
			perror("read");
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
	printf("%.1f\n", ns / n);
	return 0;
}
