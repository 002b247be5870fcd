/* err.c -- the error table of core/errors.def turned into lookups. */
#include "core/err.h"

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
