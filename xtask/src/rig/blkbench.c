/* `cargo xtask bench blk`, the Linux yardstick's side: the phases testapp's bench-blk runs,
 * on a block device opened with O_DIRECT (no page cache), one request at a time.
 * usage: blkbench DEVICE MIB OPS [RUNS]
 * Prints "bench PHASE linux SECONDS AMOUNT" lines, RUNS (default 3) times each phase. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static uint64_t lcg;
static uint64_t next_offset(uint64_t bytes) {
    lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
    return ((lcg >> 33) % (bytes / 4096)) * 4096;
}

static void must(int ok, const char *what) {
    if (!ok) {
        perror(what);
        exit(1);
    }
}

int main(int argc, char **argv) {
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: blkbench DEVICE MIB OPS [RUNS]\n");
        return 2;
    }
    int runs = argc == 5 ? atoi(argv[4]) : 3;
    uint64_t bytes = strtoull(argv[2], 0, 10) << 20, ops = strtoull(argv[3], 0, 10);
    int fd = open(argv[1], O_RDWR | O_DIRECT);
    must(fd >= 0, "open");
    char *big, *small;
    must(posix_memalign((void **)&big, 4096, 1 << 20) == 0, "posix_memalign");
    must(posix_memalign((void **)&small, 4096, 4096) == 0, "posix_memalign");
    memset(big, 0x5a, 1 << 20);
    memset(small, 0xa5, 4096);
    for (int run = 0; run < runs; run++) {
        double t = now();
        for (uint64_t off = 0; off < bytes; off += 1 << 20)
            must(pwrite(fd, big, 1 << 20, off) == 1 << 20, "pwrite");
        must(fsync(fd) == 0, "fsync");
        printf("bench seq-write linux %.3f %llu\n", now() - t, (unsigned long long)bytes);
        t = now();
        for (uint64_t off = 0; off < bytes; off += 1 << 20)
            must(pread(fd, big, 1 << 20, off) == 1 << 20, "pread");
        printf("bench seq-read linux %.3f %llu\n", now() - t, (unsigned long long)bytes);
        lcg = 12345;
        t = now();
        for (uint64_t i = 0; i < ops; i++)
            must(pread(fd, small, 4096, next_offset(bytes)) == 4096, "pread");
        printf("bench rand-read linux %.3f %llu\n", now() - t, (unsigned long long)ops);
        lcg = 12345;
        t = now();
        for (uint64_t i = 0; i < ops; i++)
            must(pwrite(fd, small, 4096, next_offset(bytes)) == 4096, "pwrite");
        must(fsync(fd) == 0, "fsync");
        printf("bench rand-write linux %.3f %llu\n", now() - t, (unsigned long long)ops);
        fflush(stdout);
    }
    return 0;
}
