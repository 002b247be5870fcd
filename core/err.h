/* err.h -- one error enum for the whole server, with the AWS error code, HTTP status and
 * default message of each value (core/errors.def is the table). Functions across the tree
 * return `int` holding TS_OK (0) or one of these values. */
#ifndef TS_ERR_H
#define TS_ERR_H

enum ts_err {
#define TS_ERR(name, code, status, msg) name,
#include "core/errors.def"
#undef TS_ERR
    TS_ERR_COUNT
};

/* The AWS error code ("NoSuchKey"), HTTP status and default message of an error. Unknown
 * values map to InternalError. These functions can't fail and are thread-safe. */
const char *ts_err_code(int err);
int ts_err_status(int err);
const char *ts_err_message(int err);

/* One error travelling up through the phases of a request: the code (TS_OK or an enum
 * ts_err value) and a message safe to show the client ("" means the code's default). Only
 * the handler at the top turns it into a reply. */
struct ts_error {
    int code;
    char msg[512];
};

/* Sets e->code and formats e->msg (truncated to fit; fmt NULL leaves it empty). Returns
 * code, so that `return ts_error_set(e, TS_E_..., "...")` reads naturally. */
int ts_error_set(struct ts_error *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* e->msg when set, else NULL (the reply then uses the code's default message). */
const char *ts_error_msg(const struct ts_error *e);

#endif
