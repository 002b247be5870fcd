/* bench_http -- the HTTP layer's ceiling: core/http.c serving 4 KiB from memory, and a bare
 * libmicrohttpd handler doing the same, under a chosen threading model. Load comes from wrk.
 *
 *   bench_http core|bare pool|tpc THREADS PORT
 *
 * tests/bench/run.sh builds and drives it; see docs/BENCHMARKS.md. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "core/http.h"
#include "core/log.h"

static char body[4096];

static int bench_finish(struct http_req *r, struct ts_error *e)
{
    (void)e;
    return http_reply_data(r, 200, "application/octet-stream", body, sizeof body, false);
}

static const struct http_route bench_route = {
    .name = "bench", .finish = bench_finish, .no_authn = true};

static enum MHD_Result bare_access(void *cls, struct MHD_Connection *c, const char *url,
                                   const char *method, const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **req_cls)
{
    static int marker;
    (void)cls, (void)url, (void)method, (void)version, (void)upload_data;
    if (*req_cls == NULL) { /* first call: headers only; answer on the second (keep-alive) */
        *req_cls = &marker;
        return MHD_YES;
    }
    *upload_data_size = 0;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(sizeof body, body, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result rc = MHD_queue_response(c, 200, resp);
    MHD_destroy_response(resp);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: bench_http core|bare pool|tpc THREADS PORT\n");
        return 2;
    }
    memset(body, 'x', sizeof body);
    bool tpc = strcmp(argv[2], "tpc") == 0;
    unsigned threads = (unsigned)atoi(argv[3]);
    int port = atoi(argv[4]);
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    log_set_level(LOG_ERROR);
    if (strcmp(argv[1], "bare") == 0) {
        unsigned flags = tpc ? MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD
                             : MHD_USE_EPOLL_INTERNAL_THREAD;
        struct MHD_Daemon *d = MHD_start_daemon(
            flags, (uint16_t)port, NULL, NULL, bare_access, NULL, MHD_OPTION_THREAD_POOL_SIZE,
            tpc ? 0u : threads, MHD_OPTION_CONNECTION_LIMIT, 4096u, MHD_OPTION_END);
        if (d == NULL)
            return 1;
        int sig;
        sigwait(&stop, &sig);
        MHD_stop_daemon(d);
        return 0;
    }
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    struct http_config cfg = {.address = addr, .threads = threads, .thread_per_connection = tpc};
    struct http_server *s = http_server_new(&cfg);
    http_server_add_route(s, &bench_route);
    if (http_server_start(s) != 0)
        return 1;
    int sig;
    sigwait(&stop, &sig);
    http_server_free(s);
    return 0;
}
