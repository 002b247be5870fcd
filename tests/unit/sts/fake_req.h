/* fake_req.h -- a struct http_req without a server, for the sts/ unit tests.
 *
 * Defines the core/http.c request accessors that sts/sigv4.c and sts/chunked.c use
 * (http_req_header, http_req_header_foreach, http_req_query, http_req_body_emit,
 * http_req_fail) over a
 * header list and an output buffer kept in struct http_req_priv, which is opaque outside
 * core/http.c. Because the test executable defines them, the linker never pulls
 * core/http.c's object out of libts_core: include this from exactly one file per test and
 * use nothing else from core/http.h.
 */
#ifndef TS_FAKE_REQ_H
#define TS_FAKE_REQ_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/http.h"

#define FAKE_MAX 32

struct http_req_priv {
    struct http_kv hdr[FAKE_MAX];
    size_t nhdr;
    struct http_kv q[FAKE_MAX];
    char qbuf[8192];
    struct buf out;     /* decoded body bytes passed on by a filter */
    char fail_msg[256]; /* the message of the last http_req_fail */
};

const char *http_req_header(struct http_req *r, const char *name)
{
    for (size_t i = 0; i < r->priv->nhdr; i++)
        if (strcasecmp(r->priv->hdr[i].key, name) == 0)
            return r->priv->hdr[i].value;
    return NULL;
}

void http_req_header_foreach(struct http_req *r,
                             int (*fn)(void *ctx, const char *name, const char *value), void *ctx)
{
    for (size_t i = 0; i < r->priv->nhdr; i++)
        if (fn(ctx, r->priv->hdr[i].key, r->priv->hdr[i].value) != 0)
            return;
}

const char *http_req_query(struct http_req *r, const char *name)
{
    for (size_t i = 0; i < r->nquery; i++)
        if (strcmp(r->query[i].key, name) == 0)
            return r->query[i].value;
    return NULL;
}

int http_req_body_emit(struct http_req *r, const uint8_t *p, size_t n)
{
    if (n == 0)
        return TS_OK;
    return buf_add(&r->priv->out, p, n) == 0 ? TS_OK : TS_E_ENTITY_TOO_LARGE;
}

int http_req_fail(struct http_req *r, int err, const char *msg)
{
    snprintf(r->priv->fail_msg, sizeof r->priv->fail_msg, "%s", msg ? msg : "");
    return err;
}

/* Fills r (and pv, which must outlive it) from a method, a raw URI (path?query) and a
 * NULL-terminated list of "Name: value" header lines. Strings are borrowed/copied into pv. */
static void fake_req(struct http_req *r, struct http_req_priv *pv, const char *method,
                     const char *uri, const char *const *headers)
{
    static char pathbuf[4][2048];
    static int pi;
    char *path = pathbuf[pi++ % 4], *qs, *o;

    memset(r, 0, sizeof *r);
    memset(pv, 0, sizeof *pv);
    buf_init(&pv->out, 64u << 20);
    r->priv = pv;
    r->method = method;
    snprintf(path, 2048, "%s", uri);
    qs = strchr(path, '?');
    if (qs != NULL)
        *qs++ = '\0';
    r->raw_path = path;
    r->raw_query = qs ? qs : (char *)"";
    r->query = pv->q;
    o = pv->qbuf;
    for (char *p = qs; p != NULL && *p != '\0' && r->nquery < FAKE_MAX;) {
        char *amp = strchr(p, '&'), *eq;
        size_t len = amp ? (size_t)(amp - p) : strlen(p), kl;
        eq = memchr(p, '=', len);
        kl = eq ? (size_t)(eq - p) : len;
        pv->q[r->nquery].key = o;
        o += enc_url_decode(p, kl, o, true) + 1;
        pv->q[r->nquery].value = o;
        if (eq)
            o += enc_url_decode(eq + 1, len - kl - 1, o, true) + 1;
        else
            *o++ = '\0';
        r->nquery++;
        p = amp ? amp + 1 : NULL;
    }
    for (size_t i = 0; headers != NULL && headers[i] != NULL && i < FAKE_MAX; i++) {
        const char *c = strchr(headers[i], ':');
        size_t kl = (size_t)(c - headers[i]);
        pv->hdr[i].key = strndup(headers[i], kl);
        c++;
        while (*c == ' ')
            c++;
        pv->hdr[i].value = strdup(c);
        pv->nhdr++;
    }
}

/* Releases what fake_req and a filter allocated. */
static void fake_req_free(struct http_req *r)
{
    struct http_req_priv *pv = r->priv;
    if (r->filter.free != NULL)
        r->filter.free(r->filter.ctx);
    memset(&r->filter, 0, sizeof r->filter);
    for (size_t i = 0; i < pv->nhdr; i++) {
        free(pv->hdr[i].key);
        free(pv->hdr[i].value);
    }
    pv->nhdr = 0;
    buf_free(&pv->out);
}

#endif
