/* curlx.c -- the one outbound HTTP(S) client (core/curlx.h). */
#include "core/curlx.h"

#include <dirent.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/ssl.h>

#define CURLX_DEFAULT_MAX (1024 * 1024)

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct curlx_resp *rs = ud;
    if (buf_add(&rs->body, p, size * n) != 0) {
        rs->too_big = true;
        return 0;
    }
    return size * n;
}

/* Adds the extra CA files to the store libcurl already filled with the system CAs. */
static CURLcode on_ssl_ctx(CURL *curl, void *sslctx, void *ud)
{
    const struct curlx_req *rq = ud;
    SSL_CTX *ctx = sslctx;
    (void)curl;
    if (rq->ca_file != NULL && SSL_CTX_load_verify_locations(ctx, rq->ca_file, NULL) != 1)
        return CURLE_SSL_CACERT_BADFILE;
    for (size_t i = 0; rq->ca_extra != NULL && rq->ca_extra[i] != NULL; i++)
        SSL_CTX_load_verify_locations(ctx, rq->ca_extra[i], NULL); /* a bad extra file is
                                                                      skipped, as MinIO */
    return CURLE_OK;
}

void curlx_set_ca(CURL *h, const struct curlx_req *rq)
{
    if (rq->ca_file == NULL && rq->ca_extra == NULL)
        return;
    curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
    curl_easy_setopt(h, CURLOPT_SSL_CTX_DATA, (void *)rq);
}

char **curlx_ca_dir(const char *certs_dir)
{
    char path[4096];
    char **v = NULL;
    size_t n = 0;
    DIR *d;
    struct dirent *de;

    if (certs_dir == NULL)
        return NULL;
    snprintf(path, sizeof path, "%s/CAs", certs_dir);
    if ((d = opendir(path)) == NULL)
        return NULL;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char **nv = realloc(v, (n + 2) * sizeof *nv);
        if (nv == NULL)
            break;
        v = nv;
        size_t len = strlen(path) + strlen(de->d_name) + 2;
        if ((v[n] = malloc(len)) == NULL)
            break;
        snprintf(v[n], len, "%s/%s", path, de->d_name);
        v[++n] = NULL;
    }
    closedir(d);
    return v;
}

void curlx_strv_free(char **v)
{
    for (size_t i = 0; v != NULL && v[i] != NULL; i++)
        free(v[i]);
    free(v);
}

static void set_auth(CURL *h, const struct curlx_req *rq)
{
    if (rq->user == NULL)
        return;
    if (rq->aws_sigv4 != NULL)
        curl_easy_setopt(h, CURLOPT_AWS_SIGV4, rq->aws_sigv4);
    else
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    curl_easy_setopt(h, CURLOPT_USERNAME, rq->user);
    curl_easy_setopt(h, CURLOPT_PASSWORD, rq->password != NULL ? rq->password : "");
}

static void set_options(CURL *h, const struct curlx_req *rq)
{
    curl_easy_setopt(h, CURLOPT_URL, rq->url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     rq->connect_timeout_ms > 0 ? rq->connect_timeout_ms : 10000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, rq->timeout_ms > 0 ? rq->timeout_ms : 60000L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, rq->user_agent != NULL ? rq->user_agent : "tessera");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    if (strncmp(rq->url, "https:", 6) == 0)
        curlx_set_ca(h, rq);
    if (rq->method != NULL)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
    if (rq->body != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
    }
    set_auth(h, rq);
}

int curlx_perform(const struct curlx_req *rq, struct curlx_resp *rs)
{
    struct curl_slist *hdrs = NULL, *next;
    CURL *h = curl_easy_init();

    memset(rs, 0, sizeof *rs);
    buf_init(&rs->body, rq->max_body > 0 ? rq->max_body : CURLX_DEFAULT_MAX);
    rs->cc = CURLE_FAILED_INIT;
    if (h == NULL)
        return -1;
    for (size_t i = 0; rq->hdr != NULL && rq->hdr[i] != NULL; i++) {
        if ((next = curl_slist_append(hdrs, rq->hdr[i])) == NULL)
            goto out;
        hdrs = next;
    }
    set_options(h, rq);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, rs);
    rs->cc = curl_easy_perform(h);
    if (rs->cc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rs->status);
out:
    for (struct curl_slist *s = hdrs; s != NULL; s = s->next)
        OPENSSL_cleanse(s->data, strlen(s->data)); /* may hold a bearer token */
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return rs->cc == CURLE_OK ? 0 : -1;
}

void curlx_easy_setup(CURL *h, const struct curlx_req *rq)
{
    set_options(h, rq);
}

int curlx_easy_perform(CURL *h, size_t max_body, struct curlx_resp *rs)
{
    memset(rs, 0, sizeof *rs);
    buf_init(&rs->body, max_body > 0 ? max_body : CURLX_DEFAULT_MAX);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, rs);
    rs->cc = curl_easy_perform(h);
    if (rs->cc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rs->status);
    return rs->cc == CURLE_OK ? 0 : -1;
}

void curlx_resp_free(struct curlx_resp *rs)
{
    if (rs->body.p != NULL && rs->body.cap > 0)
        OPENSSL_cleanse(rs->body.p, rs->body.cap);
    buf_free(&rs->body);
}

const char *curlx_env_ca_file(void)
{
    const char *ca = getenv("TESSERA_CA_FILE");
    return ca != NULL && ca[0] != '\0' ? ca : NULL;
}

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int curlx_global_init(void)
{
    pthread_once(&global_once, global_init);
    return global_rc == CURLE_OK ? 0 : -1;
}
