/* login_callback.c -- the local callback listener of `tessera login oidc --browser`
 * (cli/login_callback.h), on libmicrohttpd. The daemon's thread answers every request; the
 * waiting thread is woken once a final answer has been sent, so that the browser sees the
 * page before the listener closes. The code is exchanged (the caller's exchange function)
 * before that answer, so "Signed in" is shown only when the exchange succeeded.
 */
#include "cli/login_callback.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#include "core/enc.h"

#define CB_STATE_MAX 256
#define CB_CODE_MAX 4096

enum cb_outcome { CB_WAITING, CB_CODE, CB_ERROR };

struct login_cb {
    const struct login *l;
    struct MHD_Daemon *d;
    login_cb_exchange_fn exchange;
    void *ctx;
    char state[CB_STATE_MAX];
    enum cb_outcome outcome; /* the final answer queued; under mu */
    bool answered;           /* a final answer was queued: later callbacks are refused */
    bool done;               /* ... and sent: the waiting thread may go on */
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static const char page_ok[] = "<!doctype html><title>tessera</title><p>Signed in. You can close "
                              "this window and return to the terminal.</p>";
static const char page_failed[] =
    "<!doctype html><title>tessera</title><p>The sign-in failed: the provider did not accept "
    "the authorization code (the terminal says why). Nothing was signed in.</p>";

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *text)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result rc;
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "text/html; charset=utf-8");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

/* Whether the request carries this sign-in's state (compared in constant time). */
static bool state_ok(struct login_cb *cb, struct MHD_Connection *c)
{
    const char *got = NULL;
    size_t n = 0;
    if (MHD_lookup_connection_value_n(c, MHD_GET_ARGUMENT_KIND, "state", 5, &got, &n) != MHD_YES ||
        got == NULL)
        return false;
    return enc_ct_equal(got, n, cb->state, strlen(cb->state));
}

/* The callback with the right state: the provider's error or the code. Sets *final. */
static enum MHD_Result on_callback(struct login_cb *cb, struct MHD_Connection *c, bool *final)
{
    const char *err = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "error");
    const char *code = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "code");

    if (err != NULL) {
        login_msg(cb->l, "the provider refused the sign-in: %s", err);
        *final = true;
        cb->outcome = CB_ERROR;
        return answer(c, MHD_HTTP_BAD_REQUEST, "<p>The sign-in failed; see the terminal.</p>");
    }
    if (code == NULL || code[0] == '\0' || strlen(code) >= CB_CODE_MAX) {
        login_msg(cb->l, "the callback carries no usable code: ignored");
        return answer(c, MHD_HTTP_BAD_REQUEST, "<p>Invalid sign-in callback (no code).</p>");
    }
    *final = true; /* a code is used once, whether its exchange succeeds or not */
    if (cb->exchange(cb->ctx, code) != 0) {
        cb->outcome = CB_ERROR;
        return answer(c, MHD_HTTP_BAD_GATEWAY, page_failed);
    }
    cb->outcome = CB_CODE;
    return answer(c, MHD_HTTP_OK, page_ok);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **req_cls)
{
    struct login_cb *cb = cls;
    bool final = false;
    enum MHD_Result rc;

    (void)version;
    (void)upload;
    if (*upload_size != 0)
        return MHD_NO; /* the callback has no body */
    if (strcmp(method, "GET") != 0 || strcmp(url, "/callback") != 0)
        return answer(c, MHD_HTTP_BAD_REQUEST, "<p>Not the sign-in callback.</p>");
    /* The state first: a callback without this sign-in's state is ignored, whatever else it
     * carries, and nothing of it is printed. */
    if (!state_ok(cb, c)) {
        login_msg(cb->l, "a callback without this sign-in's state was ignored");
        return answer(c, MHD_HTTP_BAD_REQUEST, "<p>Invalid sign-in callback (state mismatch).</p>");
    }
    pthread_mutex_lock(&cb->mu);
    if (cb->answered) {
        pthread_mutex_unlock(&cb->mu);
        return answer(c, MHD_HTTP_BAD_REQUEST, "<p>This sign-in is already complete.</p>");
    }
    rc = on_callback(cb, c, &final);
    cb->answered = final;
    pthread_mutex_unlock(&cb->mu);
    *req_cls = final ? cb : NULL; /* on_completed wakes the waiting thread */
    return rc;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct login_cb *cb = cls;
    (void)c;
    (void)toe;
    if (*req_cls != cb)
        return;
    pthread_mutex_lock(&cb->mu);
    cb->done = true;
    pthread_cond_signal(&cb->cv);
    pthread_mutex_unlock(&cb->mu);
}

struct login_cb *login_cb_start(const struct login *l, int port, const char *state,
                                login_cb_exchange_fn exchange, void *ctx)
{
    struct login_cb *cb = calloc(1, sizeof *cb);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    pthread_condattr_t ca;

    if (cb == NULL || strlen(state) >= sizeof cb->state) {
        free(cb);
        login_msg(l, "out of memory");
        return NULL;
    }
    cb->l = l;
    cb->exchange = exchange;
    cb->ctx = ctx;
    memcpy(cb->state, state, strlen(state) + 1);
    pthread_mutex_init(&cb->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&cb->cv, &ca);
    pthread_condattr_destroy(&ca);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)port);
    errno = 0;
    cb->d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD, (uint16_t)port, NULL, NULL, on_request, cb,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, on_completed, cb,
        MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_CONNECTION_LIMIT, 16u, MHD_OPTION_END);
    if (cb->d == NULL) {
        login_msg(l, "cannot listen on 127.0.0.1:%d: %s", port,
                  errno != 0 ? strerror(errno) : "libmicrohttpd refused");
        login_cb_stop(cb);
        return NULL;
    }
    return cb;
}

unsigned login_cb_port(const struct login_cb *cb)
{
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(cb->d, MHD_DAEMON_INFO_BIND_PORT);
    return di != NULL ? di->port : 0;
}

int login_cb_wait(struct login_cb *cb, long timeout)
{
    struct timespec until;
    int rc = -1;

    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += timeout;
    pthread_mutex_lock(&cb->mu);
    while (!cb->done && pthread_cond_timedwait(&cb->cv, &cb->mu, &until) != ETIMEDOUT)
        ;
    if (!cb->done)
        login_msg(cb->l, "the sign-in was not completed in time");
    else if (cb->outcome == CB_CODE)
        rc = 0;
    pthread_mutex_unlock(&cb->mu);
    return rc;
}

void login_cb_stop(struct login_cb *cb)
{
    if (cb == NULL)
        return;
    if (cb->d != NULL)
        MHD_stop_daemon(cb->d);
    pthread_cond_destroy(&cb->cv);
    pthread_mutex_destroy(&cb->mu);
    free(cb);
}
