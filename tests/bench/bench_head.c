/* bench_head -- a small closed-loop load generator for HEAD requests, which wrk cannot drive
 * (its parser waits for the Content-Length body that a HEAD response announces but never
 * sends). CONNS keep-alive connections over 2 epoll threads replay the raw request in REQFILE
 * (a complete HTTP/1.1 HEAD request, pre-signed) for SECONDS; prints "req/s p50_ms p99_ms
 * non2xx" on one line.
 *
 *   bench_head PORT CONNS SECONDS REQFILE
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXLAT 10000000

static char req[65536];
static size_t reqlen;
static int port, conns;
static double secs;

struct conn {
    int fd;
    double sent;
    char buf[8192];
    size_t n;
};

struct tstate {
    int nconn;
    double *lat;
    size_t nlat, caplat;
    unsigned long non2xx;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void send_req(struct conn *c)
{
    c->sent = now();
    if (write(c->fd, req, reqlen) != (ssize_t)reqlen) {
        perror("write");
        exit(1);
    }
}

static void *run(void *arg)
{
    struct tstate *ts = arg;
    int ep = epoll_create1(0);
    struct conn *cs = calloc((size_t)ts->nconn, sizeof *cs);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    for (int i = 0; i < ts->nconn; i++) {
        cs[i].fd = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(cs[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(cs[i].fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
            perror("connect");
            exit(1);
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cs[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
        send_req(&cs[i]);
    }
    double end = now() + secs;
    struct epoll_event evs[64];
    while (now() < end) {
        int k = epoll_wait(ep, evs, 64, 100);
        for (int i = 0; i < k; i++) {
            struct conn *c = evs[i].data.ptr;
            ssize_t r = read(c->fd, c->buf + c->n, sizeof c->buf - c->n - 1);
            if (r <= 0) {
                fprintf(stderr, "connection closed\n");
                exit(1);
            }
            c->n += (size_t)r;
            c->buf[c->n] = 0;
            char *e;
            while ((e = strstr(c->buf, "\r\n\r\n")) != NULL) { /* HEAD: headers only */
                if (strncmp(c->buf + 9, "2", 1) != 0)
                    ts->non2xx++;
                if (ts->nlat == ts->caplat) {
                    ts->caplat = ts->caplat ? ts->caplat * 2 : 65536;
                    ts->lat = realloc(ts->lat, ts->caplat * sizeof *ts->lat);
                }
                ts->lat[ts->nlat++] = now() - c->sent;
                size_t used = (size_t)(e + 4 - c->buf);
                memmove(c->buf, e + 4, c->n - used + 1);
                c->n -= used;
                send_req(c);
            }
        }
    }
    return NULL;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: bench_head PORT CONNS SECONDS REQFILE\n");
        return 2;
    }
    port = atoi(argv[1]);
    conns = atoi(argv[2]);
    secs = atof(argv[3]);
    FILE *f = fopen(argv[4], "rb");
    if (!f)
        return 1;
    reqlen = fread(req, 1, sizeof req, f);
    fclose(f);
    struct tstate ts[2] = {{.nconn = conns / 2}, {.nconn = conns - conns / 2}};
    pthread_t t[2];
    double t0 = now();
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, run, &ts[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    double el = now() - t0;
    size_t n = ts[0].nlat + ts[1].nlat;
    double *all = malloc((n ? n : 1) * sizeof *all);
    memcpy(all, ts[0].lat, ts[0].nlat * sizeof *all);
    memcpy(all + ts[0].nlat, ts[1].lat, ts[1].nlat * sizeof *all);
    qsort(all, n, sizeof *all, cmpd);
    printf("%.1f %.3f %.3f %lu %zu\n", (double)n / el, n ? all[n / 2] * 1e3 : 0.0,
           n ? all[(size_t)((double)n * 0.99)] * 1e3 : 0.0, ts[0].non2xx + ts[1].non2xx, n);
    return 0;
}
