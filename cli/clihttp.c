/* clihttp.c -- libcurl defaults shared by the command-line clients. */
#include "cli/clihttp.h"

#include <stdlib.h>

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
    struct buf *b = ctx;
    return buf_add(b, p, size * n) == 0 ? size * n : 0;
}

void clihttp_defaults(CURL *h, const char *user_agent, long timeout, struct buf *resp)
{
    const char *ca = getenv("TESSERA_CA_FILE");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(h, CURLOPT_USERAGENT, user_agent);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (ca != NULL && ca[0] != '\0') {
        /* the PEM bundle in addition to the system store */
        curl_easy_setopt(h, CURLOPT_CAINFO, ca);
        curl_easy_setopt(h, CURLOPT_CAPATH, "/etc/ssl/certs");
    }
}
