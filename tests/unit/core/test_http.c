/* Unit tests for core/http.c: a real server on a loopback port, driven with libcurl. */
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/http.h"
#include "tests/harness/t.h"

struct sink_state {
    size_t n;
};

static int sink_write(void *ctx, const uint8_t *p, size_t n)
{
    struct sink_state *s = ctx;
    (void)p;
    s->n += n;
    return s->n > 100000 ? TS_E_ENTITY_TOO_LARGE : TS_OK;
}

static int echo_start(struct http_req *r, struct ts_error *e)
{
    if (http_req_query(r, "sink")) {
        struct sink_state *s = calloc(1, sizeof *s);
        r->hctx = s;
        http_req_set_sink(r, (struct http_sink){sink_write, s});
    }
    if (http_req_query(r, "deny"))
        return TS_E_ACCESS_DENIED;
    if (http_req_query(r, "why"))
        return ts_error_set(e, TS_E_INVALID_ARGUMENT, "start says %s", http_req_query(r, "why"));
    return TS_OK;
}

static int echo_finish(struct http_req *r, struct ts_error *e)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    buf_addf(&b, "%s %s q=%s body=", r->method, r->path,
             http_req_query(r, "q") ? http_req_query(r, "q") : "-");
    if (r->hctx)
        buf_addf(&b, "sink:%zu", ((struct sink_state *)r->hctx)->n);
    else
        buf_add(&b, r->body, r->body_len);
    http_reply_header(r, "X-Test", "yes");
    size_t len;
    char *s = buf_take(&b, &len);
    if (http_req_query(r, "fail")) {
        free(s);
        return ts_error_set(e, TS_E_NO_SUCH_KEY, "finish says %s", http_req_query(r, "fail"));
    }
    return http_reply_data(r, 200, "text/plain", s, len, true);
}

static void echo_cleanup(struct http_req *r)
{
    free(r->hctx);
}

static bool undeclared_match(struct http_req *r)
{
    return strncmp(r->path, "/undeclared", 11) == 0;
}

static int undeclared_finish(struct http_req *r, struct ts_error *e)
{
    (void)e;
    return http_reply_data(r, 200, "text/plain", "ran", 3, false);
}

/* The authz phase: the route declares, the hook decides (and sees only declared requests). */
static int echo_resolve(struct http_req *r, struct ts_error *e)
{
    r->authz.item[0] = (struct http_authz_item){"echo:Do", r->path, NULL, NULL};
    r->authz.nitems = 1;
    return TS_OK;
}

static int authz_calls;

static int authz_hook(void *ctx, struct http_req *r, const struct http_authz *q, struct ts_error *e)
{
    authz_calls++;
    if (q->nitems != 1 || strcmp(q->item[0].action, "echo:Do") != 0)
        return TS_E_INTERNAL;
    return http_req_query(r, "authz-deny") ? TS_E_ACCESS_DENIED : TS_OK;
}

static const struct http_route undeclared_route = {
    .name = "undeclared",
    .match = undeclared_match,
    .finish = undeclared_finish,
    .err_style = HTTP_ERR_S3,
};

static const struct http_route echo_route = {
    .name = "echo",
    .resolve = echo_resolve,
    .start = echo_start,
    .finish = echo_finish,
    .cleanup = echo_cleanup,
    .err_style = HTTP_ERR_S3,
    .body_max = 1024,
};

static int authn(void *ctx, struct http_req *r, struct ts_error *e)
{
    (void)ctx;
    const char *h = http_req_header(r, "X-Fail-Auth");
    if (h != NULL && strcmp(h, "why") == 0)
        return ts_error_set(e, TS_E_SIGNATURE, "authn says no");
    return h ? TS_E_SIGNATURE : TS_OK;
}

static size_t collect(char *p, size_t sz, size_t n, void *ud)
{
    buf_add(ud, p, sz * n);
    return sz * n;
}

static long request(CURL *c, const char *url, const char *method, const char *body, size_t blen,
                    const char *hdr, struct buf *out)
{
    struct curl_slist *h = NULL;
    long code = 0;
    buf_init(out, 1 << 20);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_NOBODY, strcmp(method, "HEAD") == 0 ? 1L : 0L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)blen);
    } else {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
        curl_easy_setopt(c, CURLOPT_HTTPGET, strcmp(method, "GET") == 0 ? 1L : 0L);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    if (hdr)
        h = curl_slist_append(h, hdr);
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(h);
    return code;
}

int main(void)
{
    struct http_config cfg = {.address = "127.0.0.1:0", .threads = 2};
    struct http_server *s = http_server_new(&cfg);
    ok(s != NULL, "server new");
    http_server_add_route(s, &undeclared_route);
    http_server_add_route(s, &echo_route);
    http_server_set_authn(s, authn, NULL, NULL);
    http_server_set_authz(s, authz_hook, NULL);
    ok(http_server_start(s) == 0, "server start");
    unsigned port = http_server_port(s);
    ok(port > 0, "bound port");

    char url[256];
    struct buf out;
    CURL *c = curl_easy_init();

    snprintf(url, sizeof url, "http://127.0.0.1:%u/b/a%%20key?q=x+y%%2Bz", port);
    is_int(request(c, url, "GET", NULL, 0, NULL, &out), 200, "GET status");
    is_str(buf_str(&out), "GET /b/a key q=x y+z body=", "GET echo decodes path and query");
    buf_free(&out);

    snprintf(url, sizeof url, "http://127.0.0.1:%u/b/k", port);
    is_int(request(c, url, "PUT", "hello", 5, NULL, &out), 200, "PUT status");
    is_str(buf_str(&out), "PUT /b/k q=- body=hello", "PUT buffered body");
    buf_free(&out);

    char *big = malloc(5000);
    memset(big, 'x', 5000);
    is_int(request(c, url, "PUT", big, 5000, NULL, &out), 400, "body over route limit");
    ok(strstr(buf_str(&out), "<Code>EntityTooLarge</Code>") != NULL, "EntityTooLarge body");
    buf_free(&out);

    snprintf(url, sizeof url, "http://127.0.0.1:%u/b/k?sink=1", port);
    is_int(request(c, url, "PUT", big, 5000, NULL, &out), 200, "sink takes large body");
    is_str(buf_str(&out), "PUT /b/k q=- body=sink:5000", "sink saw every byte");
    buf_free(&out);
    free(big);

    snprintf(url, sizeof url, "http://127.0.0.1:%u/b/k", port);
    is_int(request(c, url, "GET", NULL, 0, "X-Fail-Auth: 1", &out), 403, "authn error status");
    ok(strstr(buf_str(&out), "<Code>SignatureDoesNotMatch</Code>") != NULL, "authn error code");
    ok(strstr(buf_str(&out), "<RequestId>") != NULL, "request id in error");
    buf_free(&out);

    snprintf(url, sizeof url, "http://127.0.0.1:%u/b/k?deny=1", port);
    is_int(request(c, url, "PUT", "abc", 3, NULL, &out), 403, "start error with body");
    buf_free(&out);

    /* One error path: every phase returns its error with a message; only the server replies. */
    snprintf(url, sizeof url, "http://127.0.0.1:%u/b/k", port);
    is_int(request(c, url, "GET", NULL, 0, "X-Fail-Auth: why", &out), 403, "authn message status");
    ok(strstr(buf_str(&out), "<Message>authn says no</Message>") != NULL, "authn message");
    buf_free(&out);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/b/k?why=bad", port);
    is_int(request(c, url, "PUT", "abc", 3, NULL, &out), 400, "start message status");
    ok(strstr(buf_str(&out), "<Code>InvalidArgument</Code><Message>start says bad</Message>") !=
           NULL,
       "start message");
    buf_free(&out);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/b/k?fail=gone", port);
    is_int(request(c, url, "GET", NULL, 0, NULL, &out), 404, "finish error status");
    ok(strstr(buf_str(&out), "<Code>NoSuchKey</Code><Message>finish says gone</Message>") != NULL,
       "finish error: the server replies with its message");
    ok(strstr(buf_str(&out), "X-Test") == NULL && strstr(buf_str(&out), "body=") == NULL,
       "finish error: no handler reply");
    buf_free(&out);

    /* authorization is a phase: denied before start and before the body is read */
    snprintf(url, sizeof url, "http://127.0.0.1:%u/b/k?sink=1&authz-deny=1", port);
    int calls = authz_calls;
    is_int(request(c, url, "PUT", "abc", 3, NULL, &out), 403, "authz phase denies");
    ok(strstr(buf_str(&out), "<Code>AccessDenied</Code>") != NULL, "AccessDenied");
    is_int(authz_calls, calls + 1, "the hook decided once");
    buf_free(&out);
    /* a route that declares nothing is denied (fail closed), its handler never runs */
    snprintf(url, sizeof url, "http://127.0.0.1:%u/undeclared", port);
    is_int(request(c, url, "GET", NULL, 0, NULL, &out), 403, "undeclared route denied");
    ok(strstr(buf_str(&out), "ran") == NULL, "undeclared handler did not run");
    buf_free(&out);

    snprintf(url, sizeof url, "http://127.0.0.1:%u/b/%%00x", port);
    is_int(request(c, url, "GET", NULL, 0, NULL, &out), 400, "NUL in path refused");
    ok(strstr(buf_str(&out), "InvalidURI") != NULL, "InvalidURI");
    buf_free(&out);

    /* Keep-alive: several requests over one connection. */
    long conns = 0;
    snprintf(url, sizeof url, "http://127.0.0.1:%u/x", port);
    for (int i = 0; i < 5; i++) {
        request(c, url, "GET", NULL, 0, NULL, &out);
        buf_free(&out);
    }
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &conns);
    is_int(conns, 0, "connection reused");

    curl_easy_cleanup(c);
    http_server_free(s);

    /* no authz hook registered: every declared request is denied (fail closed) */
    s = http_server_new(&cfg);
    http_server_add_route(s, &echo_route);
    ok(s != NULL && http_server_start(s) == 0, "server without authz hook");
    c = curl_easy_init();
    snprintf(url, sizeof url, "http://127.0.0.1:%u/b/k", http_server_port(s));
    is_int(request(c, url, "GET", NULL, 0, NULL, &out), 403, "no hook: denied");
    buf_free(&out);
    curl_easy_cleanup(c);
    http_server_free(s);
    return t_done();
}
