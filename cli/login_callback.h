/* login_callback.h -- the one-shot local listener of `tessera login oidc --browser`: a
 * libmicrohttpd daemon on 127.0.0.1 that waits for the provider's redirect to /callback.
 *
 * Any local process or web page can reach the port, so the callback's state is checked
 * first (constant-time): a request without this sign-in's state is answered 400 and ignored,
 * whatever else it carries, and nothing of it is printed. Everything else printed goes
 * through term_safe (cli/login_common.h). */
#ifndef TS_CLI_LOGIN_CALLBACK_H
#define TS_CLI_LOGIN_CALLBACK_H

#include <stddef.h>

#include "cli/login_common.h"

struct login_cb;

/* Trades the callback's code (for the id_token, kept by the caller): 0, or -1 after a
 * message. Runs on the listener's thread before the browser gets its answer. */
typedef int (*login_cb_exchange_fn)(void *ctx, const char *code);

/* Listens on 127.0.0.1:port (0: any free port) for the callback carrying state (copied).
 * The browser is told "Signed in" only after exchange(ctx, code) succeeded; otherwise it
 * gets an error page pointing to the terminal. NULL after a message. */
struct login_cb *login_cb_start(const struct login *l, int port, const char *state,
                                login_cb_exchange_fn exchange, void *ctx);
/* The port listened on. */
unsigned login_cb_port(const struct login_cb *cb);
/* Waits up to timeout seconds for the callback and its code exchange: 0 when the exchange
 * succeeded; -1 after a message (the provider's error, a failed exchange, or the time ran
 * out). */
int login_cb_wait(struct login_cb *cb, long timeout);
/* Stops listening and frees cb (which may be NULL). */
void login_cb_stop(struct login_cb *cb);

#endif
