/* bench_tls -- a closed-loop HTTPS load generator that can present a TLS client certificate,
 * which wrk cannot (AssumeRoleWithCertificate's proof is the client certificate of the TLS
 * connection). CONNS keep-alive TLS connections, one thread each, replay the raw request in
 * REQFILE (a complete HTTP/1.1 request, pre-signed where it needs a signature) for SECONDS;
 * prints "req/s p50_ms p99_ms non2xx" on one line. The server's certificate is verified
 * against CAFILE; CERT and KEY (PEM), when given, are presented as the client certificate.
 *
 *   bench_tls PORT CONNS SECONDS REQFILE CAFILE [CERT KEY]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

static char req[65536];
static size_t reqlen;
static int port;
static double secs;
static SSL_CTX *ctx;

struct worker {
    pthread_t th;
    double *lat;
    size_t nlat, caplat;
    unsigned long non2xx, fail;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static SSL *dial(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    SSL *s;

    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if ((s = SSL_new(ctx)) == NULL || SSL_set_fd(s, fd) != 1 || SSL_connect(s) != 1) {
        SSL_free(s);
        close(fd);
        return NULL;
    }
    return s;
}

/* Reads one response (headers and a Content-Length body); its status, or -1. */
static int read_response(SSL *s)
{
    char buf[16384];
    size_t n = 0;
    char *end = NULL;

    while (end == NULL) {
        int r = SSL_read(s, buf + n, (int)(sizeof buf - 1 - n));
        if (r <= 0)
            return -1;
        n += (size_t)r;
        buf[n] = '\0';
        end = strstr(buf, "\r\n\r\n");
        if (end == NULL && n >= sizeof buf - 1)
            return -1;
    }
    int status = atoi(buf + 9);
    const char *cl = strcasestr(buf, "\r\nContent-Length:");
    long want = cl != NULL ? atol(cl + 17) : 0;
    long have = (long)(n - (size_t)(end + 4 - buf));
    while (have < want) {
        int r = SSL_read(s, buf, (int)sizeof buf);
        if (r <= 0)
            return -1;
        have += r;
    }
    return status;
}

static void record(struct worker *w, double v)
{
    if (w->nlat == w->caplat) {
        w->caplat = w->caplat ? w->caplat * 2 : 4096;
        w->lat = realloc(w->lat, w->caplat * sizeof *w->lat);
        if (w->lat == NULL)
            abort();
    }
    w->lat[w->nlat++] = v;
}

static void *run(void *arg)
{
    struct worker *w = arg;
    double deadline = now() + secs;
    SSL *s = NULL;

    while (now() < deadline) {
        if (s == NULL && (s = dial()) == NULL) {
            w->fail++;
            usleep(1000);
            continue;
        }
        double t0 = now();
        int st = SSL_write(s, req, (int)reqlen) == (int)reqlen ? read_response(s) : -1;
        if (st < 0) {
            int fd = SSL_get_fd(s);
            SSL_free(s);
            close(fd);
            s = NULL;
            w->fail++;
            continue;
        }
        record(w, now() - t0);
        if (st < 200 || st > 399)
            w->non2xx++;
    }
    if (s != NULL) {
        int fd = SSL_get_fd(s);
        SSL_shutdown(s);
        SSL_free(s);
        close(fd);
    }
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 6 && argc != 8) {
        fprintf(stderr, "usage: bench_tls PORT CONNS SECONDS REQFILE CAFILE [CERT KEY]\n");
        return 2;
    }
    port = atoi(argv[1]);
    int conns = atoi(argv[2]);
    secs = atof(argv[3]);
    FILE *f = fopen(argv[4], "rb");
    if (f == NULL || (reqlen = fread(req, 1, sizeof req, f)) == 0)
        return 2;
    fclose(f);
    ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (SSL_CTX_load_verify_locations(ctx, argv[5], NULL) != 1 ||
        (argc == 8 && (SSL_CTX_use_certificate_chain_file(ctx, argv[6]) != 1 ||
                       SSL_CTX_use_PrivateKey_file(ctx, argv[7], SSL_FILETYPE_PEM) != 1))) {
        ERR_print_errors_fp(stderr);
        return 2;
    }
    struct worker *w = calloc((size_t)conns, sizeof *w);
    for (int i = 0; i < conns; i++)
        pthread_create(&w[i].th, NULL, run, &w[i]);
    size_t total = 0;
    unsigned long non2xx = 0, fail = 0;
    for (int i = 0; i < conns; i++) {
        pthread_join(w[i].th, NULL);
        total += w[i].nlat;
        non2xx += w[i].non2xx;
        fail += w[i].fail;
    }
    double *all = malloc((total ? total : 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < conns; i++) {
        memcpy(all + k, w[i].lat, w[i].nlat * sizeof *all);
        k += w[i].nlat;
        free(w[i].lat);
    }
    qsort(all, total, sizeof *all, cmp);
    double p50 = total ? all[total / 2] * 1e3 : 0, p99 = total ? all[total * 99 / 100] * 1e3 : 0;
    printf("%.1f %.2f %.2f %lu\n", total / secs, p50, p99, non2xx + fail);
    free(all);
    free(w);
    SSL_CTX_free(ctx);
    return 0;
}
