/* curlx.h -- the one outbound HTTP(S) client: a libcurl easy request with the settings every
 * caller needs (http/https only, no redirects, connect and total timeouts, TLS verified
 * against the system store plus extra PEM bundles, a bounded response buffer). The admin and
 * login command-line clients (cli/) and the OpenID Connect fetches (idp/jwks.c) use it.
 *
 * The extra CAs are TESSERA_CA_FILE and the PEM files of CERTS_DIR/CAs/ (MinIO's layout),
 * loaded into the OpenSSL store after the system CAs, so that they add to it.
 */
#ifndef TS_CURLX_H
#define TS_CURLX_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

#include "core/buf.h"

struct curlx_req {
    const char *url;
    const char *method;     /* NULL: GET, or POST when body is set */
    const char *body;       /* request body (sent as is), or NULL */
    size_t body_len;        /* its length */
    const char *const *hdr; /* "Name: value" lines, NULL-terminated; or NULL */
    const char *user;       /* with password: HTTP Basic, or the SigV4 keys with aws_sigv4 */
    const char *password;
    const char *aws_sigv4;               /* CURLOPT_AWS_SIGV4 ("aws:amz:REGION:SERVICE"), or NULL */
    const char *user_agent;              /* NULL: "tessera" */
    long connect_timeout_ms, timeout_ms; /* 0: 10 s and 60 s */
    size_t max_body;                     /* response size cap; 0: 1 MiB */
    const char *ca_file;                 /* a PEM bundle that must load, or NULL */
    char *const *ca_extra;               /* PEM files (NULL-terminated) loaded if they can be */
};

struct curlx_resp {
    long status;     /* the HTTP status, 0 when no answer came */
    struct buf body; /* the response body (NUL-terminated by buf_str) */
    CURLcode cc;     /* CURLE_OK when an answer came */
    bool too_big;    /* the answer passed max_body (cc is then CURLE_WRITE_ERROR) */
};

/* Sends rq and fills *rs (which the caller releases with curlx_resp_free, whatever the
 * outcome). Returns 0 when an HTTP answer came (any status), -1 otherwise (rs->cc says why:
 * curl_easy_strerror; rs->too_big for an answer over the cap). */
int curlx_perform(const struct curlx_req *rq, struct curlx_resp *rs);

/* For a handle the caller keeps and reuses (a pool: libcurl then reuses its connections):
 * applies rq's settings (url, protocols, timeouts, TLS verification and CAs, method, body,
 * auth; not rq->hdr nor max_body) to h. rq and the strings it points to must outlive h's use.
 * The caller may set more options (CURLOPT_HTTPHEADER, CURLOPT_POSTFIELDS...) afterwards. */
void curlx_easy_setup(CURL *h, const struct curlx_req *rq);
/* Performs h (set up by curlx_easy_setup) into *rs, with an answer cap of max_body (0: 1 MiB);
 * returns as curlx_perform. */
int curlx_easy_perform(CURL *h, size_t max_body, struct curlx_resp *rs);

/* Wipes (the body may hold secrets) and frees the response. */
void curlx_resp_free(struct curlx_resp *rs);

/* TESSERA_CA_FILE when it is set and not empty, else NULL: the command-line clients' CAs. */
const char *curlx_env_ca_file(void);

/* Makes h trust the system CAs plus rq's ca_file and ca_extra (only those two fields are read;
 * rq must outlive h's transfers). Nothing to do when both are NULL. */
void curlx_set_ca(CURL *h, const struct curlx_req *rq);
/* The files of CERTS_DIR/CAs/ (MinIO's layout) as a NULL-terminated list for ca_extra, or
 * NULL (none, or certs_dir NULL); free with curlx_strv_free. */
char **curlx_ca_dir(const char *certs_dir);
void curlx_strv_free(char **v);

/* curl_global_init once per process (thread-safe). 0, or -1. */
int curlx_global_init(void);

#endif
