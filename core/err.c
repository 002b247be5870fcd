/* err.c -- the error table of core/errors.def turned into lookups. */
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>

struct err_row {
    const char *code;
    int status;
    const char *msg;
};

static const struct err_row err_rows[] = {
#define TS_ERR(name, code, status, msg) [name] = {code, status, msg},
#include "core/errors.def"
#undef TS_ERR
};

static const struct err_row *err_row_get(int err)
{
    if (err < 0 || err >= TS_ERR_COUNT)
        err = TS_E_INTERNAL;
    return &err_rows[err];
}

const char *ts_err_code(int err)
{
    return err_row_get(err)->code;
}

int ts_err_status(int err)
{
    return err_row_get(err)->status;
}

const char *ts_err_message(int err)
{
    return err_row_get(err)->msg;
}

int ts_error_set(struct ts_error *e, int code, const char *fmt, ...)
{
    va_list ap;

    e->code = code;
    e->msg[0] = '\0';
    if (fmt != NULL) {
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

const char *ts_error_msg(const struct ts_error *e)
{
    return e->msg[0] != '\0' ? e->msg : NULL;
}
