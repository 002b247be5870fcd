/* bench_fsync -- the durable-PUT ceiling: THREADS threads each loop write(SIZE bytes) to a new
 * temp file + fsync + rename into place + fsync of the directory, for SECONDS; prints the
 * operations per second over all threads. The same steps the object store does per PUT
 * (objstore/store.c obj_writer_finish), without HTTP, SigV4, MD5 or the metadata commit.
 *
 *   bench_fsync DIR SIZE THREADS SECONDS
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *dir;
static size_t size;
static double secs;
static atomic_ulong total;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *run(void *arg)
{
    long id = (long)arg;
    char *buf = malloc(size ? size : 1), tmp[4096], dst[4096];
    memset(buf, 'x', size ? size : 1);
    double end = now() + secs;
    unsigned long n = 0;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    while (now() < end) {
        snprintf(tmp, sizeof tmp, "%s/tmp-%ld-%lu", dir, id, n);
        snprintf(dst, sizeof dst, "%s/obj-%ld-%lu", dir, id, n % 64);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || write(fd, buf, size) != (ssize_t)size || fsync(fd) != 0 || close(fd) != 0 ||
            rename(tmp, dst) != 0 || fsync(dfd) != 0) {
            perror("bench_fsync");
            exit(1);
        }
        n++;
    }
    close(dfd);
    atomic_fetch_add(&total, n);
    free(buf);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: bench_fsync DIR SIZE THREADS SECONDS\n");
        return 2;
    }
    dir = argv[1];
    size = strtoul(argv[2], NULL, 10);
    int threads = atoi(argv[3]);
    secs = atof(argv[4]);
    pthread_t t[256];
    double t0 = now();
    for (long i = 0; i < threads && i < 256; i++)
        pthread_create(&t[i], NULL, run, (void *)i);
    for (int i = 0; i < threads && i < 256; i++)
        pthread_join(t[i], NULL);
    printf("%.1f\n", (double)atomic_load(&total) / (now() - t0));
    return 0;
}
