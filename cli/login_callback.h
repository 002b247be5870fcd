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

/* Listens on 127.0.0.1:port (0: any free port) for the callback carrying state (copied).
 * NULL after a message. */
struct login_cb *login_cb_start(const struct login *l, int port, const char *state);
/* The port listened on. */
unsigned login_cb_port(const struct login_cb *cb);
/* Waits up to timeout seconds for the callback; on 0, code (codelen bytes) holds its code.
 * -1 after a message (the provider's error, or the time ran out). */
int login_cb_wait(struct login_cb *cb, long timeout, char *code, size_t codelen);
/* Stops listening and frees cb (which may be NULL). */
void login_cb_stop(struct login_cb *cb);

#endif
