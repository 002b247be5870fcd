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

#endif
