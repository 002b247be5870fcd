/* fuzz_util.h -- helpers shared by the fuzz targets: splitting one input into fields. */
#ifndef TS_FUZZ_UTIL_H
#define TS_FUZZ_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Copies data into a fresh NUL-terminated heap string (exact size + 1, for ASan). */
static inline char *fz_strndup(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s == NULL)
        abort();
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* Splits data at each sep byte into at most max heap strings (the last one takes the rest;
 * missing fields are ""). Returns the number of fields filled (always max). Free with
 * fz_free_fields. Embedded NULs simply shorten a field, as they would in a C string. */
static inline size_t fz_fields(const uint8_t *data, size_t size, uint8_t sep, char **out,
                               size_t max)
{
    size_t i = 0, start = 0;
    for (size_t k = 0; k < size && i + 1 < max; k++) {
        if (data[k] == sep) {
            out[i++] = fz_strndup(data + start, k - start);
            start = k + 1;
        }
    }
    out[i++] = fz_strndup(data + (start < size ? start : size), start < size ? size - start : 0);
    while (i < max)
        out[i++] = fz_strndup((const uint8_t *)"", 0);
    return max;
}

static inline void fz_free_fields(char **f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(f[i]);
}

#endif
