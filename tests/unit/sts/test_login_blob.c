/* test_login_blob.c -- the sealed blobs of the browser login's cookies (sts_seal_blob /
 * sts_open_blob): round trip, another node on the same store, key rotation, labels, tampering
 * and truncation; and oidc_token_claim, which reads the id_token's nonce. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "idp/oidc.h"
#include "sts/sts_int.h"
#include "tests/harness/t.h"

static char dir_tmpl[] = "/tmp/ts_sts_blob_XXXXXX";

int main(void)
{
    struct iam_store *st = NULL;
    struct sts_config cfg = {.max_duration = 43200};
    struct sts_ctx *c, *c2;
    const char *msg = "{\"s\":\"state\",\"n\":\"nonce\",\"v\":\"verifier\"}";
    char path[256], *blob = NULL, *out = NULL, kid[32];
    size_t n = 0;

    if (mkdtemp(dir_tmpl) == NULL)
        return 1;
    snprintf(path, sizeof path, "%s/iam", dir_tmpl);
    if (iam_store_open(path, &st) != TS_OK)
        return 1;
    c = sts_ctx_new(&cfg, st, NULL);
    c2 = sts_ctx_new(&cfg, st, NULL); /* a second node sharing the store */
    ok(c != NULL && c2 != NULL, "ctx");
    if (c == NULL || c2 == NULL)
        return t_done();

    is_int(sts_seal_blob(c, "label-a", msg, strlen(msg), &blob), TS_OK, "seal");
    ok(blob != NULL && strstr(blob, "state") == NULL, "sealed text hides the content");
    ok(strspn(blob, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
           strlen(blob),
       "cookie-safe alphabet");
    is_int(sts_open_blob(c, "label-a", blob, strlen(blob), &out, &n), TS_OK, "open");
    is_str(out, msg, "round trip");
    is_int((long)n, (long)strlen(msg), "length");
    free(out);
    out = NULL;
    is_int(sts_open_blob(c2, "label-a", blob, strlen(blob), &out, &n), TS_OK, "other node");
    is_str(out, msg, "other node content");
    free(out);
    out = NULL;
    is_int(sts_open_blob(c, "label-b", blob, strlen(blob), &out, &n), TS_E_INVALID_TOKEN,
           "another label does not open it");
    ok(out == NULL, "nothing returned");

    /* Every single-character change and every truncation is refused. */
    {
        size_t len = strlen(blob);
        char *t = strdup(blob);
        int opened = 0;
        for (size_t i = 0; i < len; i++) {
            char keep = t[i];
            t[i] = keep == 'A' ? 'B' : 'A';
            if (sts_open_blob(c, "label-a", t, len, &out, &n) == TS_OK) {
                opened++;
                free(out);
                out = NULL;
            }
            t[i] = keep;
        }
        for (size_t l = 0; l < len; l++)
            if (sts_open_blob(c, "label-a", t, l, &out, &n) == TS_OK) {
                opened++;
                free(out);
                out = NULL;
            }
        is_int(opened, 0, "tampered or truncated blobs never open");
        free(t);
    }
    is_int(sts_open_blob(c, "label-a", "", 0, &out, &n), TS_E_INVALID_TOKEN, "empty");
    is_int(sts_open_blob(c, "label-a", "!!!!", 4, &out, &n), TS_E_INVALID_TOKEN, "not base64url");

    /* A key rotation on the other node: old blobs still open, new ones use the new key once
     * it is STS_KEY_PUBLISH_S old (before, the previous one: every node knows it). */
    is_int(sts_rotate_key(c2, kid), TS_OK, "rotate");
    is_int(sts_open_blob(c, "label-a", blob, strlen(blob), &out, &n), TS_OK, "old key kept");
    free(out);
    out = NULL;
    {
        char *b2 = NULL;
        is_int(sts_seal_blob(c, "label-a", msg, strlen(msg), &b2), TS_OK, "seal at rotation");
        ok(b2 != NULL && memcmp(b2, blob, 8) == 0, "previous key id until published");
        free(b2);
        b2 = NULL;
        sleep(STS_KEY_PUBLISH_S + 1);
        is_int(sts_seal_blob(c, "label-a", msg, strlen(msg), &b2), TS_OK, "seal after rotation");
        ok(b2 != NULL && memcmp(b2, blob, 8) != 0, "new key id");
        is_int(sts_open_blob(c2, "label-a", b2, strlen(b2), &out, &n), TS_OK, "opens on node 2");
        free(out);
        out = NULL;
        free(b2);
    }
    free(blob);

    /* oidc_token_claim: the payload's string claim, without verification. */
    {
        /* {"alg":"none"} . {"nonce":"n-1","sub":"alice","n":5} . sig */
        const char *tok =
            "eyJhbGciOiJub25lIn0.eyJub25jZSI6Im4tMSIsInN1YiI6ImFsaWNlIiwibiI6NX0.c2ln";
        char *v = oidc_token_claim(tok, "nonce");
        is_str(v, "n-1", "nonce claim");
        free(v);
        ok(oidc_token_claim(tok, "n") == NULL, "non-string claim");
        ok(oidc_token_claim(tok, "missing") == NULL, "absent claim");
        ok(oidc_token_claim("a.b=.c", "nonce") == NULL, "padding refused");
        ok(oidc_token_claim("abc", "nonce") == NULL, "not a JWS");
        ok(oidc_token_claim("..", "nonce") == NULL, "empty segments");
    }

    sts_ctx_free(c);
    sts_ctx_free(c2);
    iam_store_close(st);
    {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir_tmpl);
        if (system(cmd) != 0)
            fprintf(stderr, "cleanup failed\n");
    }
    return t_done();
}
