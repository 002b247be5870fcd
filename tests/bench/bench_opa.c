/* bench_opa.c -- the fastest OPA-compatible policy service for the plugin benchmark
 * (tests/bench/bench.py, BUILD@opa): libmicrohttpd, epoll with one thread per core, answers
 * every POST with {"result": true} once its body is read. Usage: bench_opa PORT. Runs until
 * killed. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

static const char answer[] = "{\"result\": true}";

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *data,
                                 size_t *size, void **state)
{
    (void)cls, (void)url, (void)method, (void)version, (void)data;
    if (*state == NULL) { /* first call: headers only */
        *state = c;
        return MHD_YES;
    }
    if (*size > 0) { /* the input document: read and dropped */
        *size = 0;
        return MHD_YES;
    }
    struct MHD_Response *r =
        MHD_create_response_from_buffer(sizeof answer - 1, (void *)answer, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result rc = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fputs("usage: bench_opa PORT\n", stderr);
        return 2;
    }
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_EPOLL_INTERNAL_THREAD, (uint16_t)atoi(argv[1]), NULL, NULL, on_access, NULL,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)sysconf(_SC_NPROCESSORS_ONLN), MHD_OPTION_END);
    if (d == NULL) {
        fputs("bench_opa: cannot listen\n", stderr);
        return 1;
    }
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGTERM);
    sigaddset(&s, SIGINT);
    sigprocmask(SIG_BLOCK, &s, NULL);
    int sig;
    sigwait(&s, &sig);
    MHD_stop_daemon(d);
    return 0;
}
