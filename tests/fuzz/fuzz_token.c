/* fuzz_token.c -- session-token unsealing (sts/seal.c sts_unseal): every S3 request with
 * temporary credentials hands the server an attacker-controlled X-Amz-Security-Token.
 * byte 0 selects the mode:
 *   even: the rest is the token as sent;
 *   odd:  a token freshly sealed here with the live key is mutated by the input (pairs of
 *         position, xor byte; then truncated to byte 1's share of its length), so the
 *         decoder gets past base64 and the key id into the AEAD and payload checks.
 * Anything but the exact sealed string must never open (AES-GCM, canonical base64url), and
 * the untouched one always must. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "idp/iam.h"
#include "sts/sts_int.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct sts_ctx *ctx;
static char *good;
static size_t good_len;
#define NOW 1700000000

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static char dir[] = "/tmp/ts_fuzz_token_XXXXXX";
    struct sts_config cfg = {.region = "us-east-1",
                             .root_user = "rootuser",
                             .root_secret = "rootsecret123",
                             .max_duration = 43200};
    static char *pols[] = {"readwrite", "diagnostics"};
    /* A multi-valued claim and a verified role: the decoder's array and "ro" paths. */
    static struct http_kv claims[] = {{"jwt:sub", "alice-sub"},
                                      {"jwt:groups", "readers"},
                                      {"ldap:dn", "cn=a,dc=x"},
                                      {"jwt:groups", "writers"}};
    struct iam_store *st;
    struct sts_token t;
    char secret[41];

    if (mkdtemp(dir) == NULL || iam_store_open(dir, &st) != TS_OK ||
        (ctx = sts_ctx_new(&cfg, st, NULL)) == NULL) {
        fprintf(stderr, "fuzz_token: cannot set up an IAM store in /tmp\n");
        abort();
    }
    memset(&t, 0, sizeof t);
    memcpy(t.access_key, "ABCDEFGHIJ0123456789", 21);
    t.issued = NOW;
    t.expires = NOW + 3600;
    t.parent = "alice";
    t.username = "alice";
    t.source = "ldap";
    t.session_policy = "{\"Version\":\"2012-10-17\",\"Statement\":[]}";
    t.session_name = "s1";
    t.role_arn = "arn:aws:iam::123456789012:role/r";
    t.policies.v = pols;
    t.policies.n = 2;
    t.role = "deploy";
    t.claims = claims;
    t.nclaims = 4;
    if (sts_seal(ctx, &t, &good, secret) != TS_OK)
        abort();
    good_len = strlen(good);
    /* The store directory is not needed after the keys are loaded. */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sts_token out;
    char secret[41];
    char *tok;
    size_t len;
    bool mutated = false;

    if (size < 1)
        return 0;
    if ((data[0] & 1) == 0) {
        tok = fz_strndup(data + 1, size - 1);
        len = size - 1;
    } else {
        tok = fz_strndup((const uint8_t *)good, good_len);
        len = good_len;
        for (size_t i = 2; i + 1 < size; i += 2) {
            size_t pos = data[i] % good_len;
            tok[pos] ^= (char)data[i + 1];
        }
        if (size > 1 && data[1] != 0xff) {
            size_t keep = good_len * data[1] / 255;
            if (keep < len) {
                len = keep;
                tok[len] = '\0';
            }
        }
    }
    /* Changed at all? (XORs at one position may cancel out: the first "crash" found was
     * this harness forgetting that.) */
    mutated = len != good_len || memcmp(tok, good, len) != 0;
    int rc = sts_unseal(ctx, tok, len, NOW + 10, &out, secret);
    if (rc == TS_OK) {
        if (mutated) { /* only the exact sealed string opens: raw input or mutation */
            /* base64url's last character may carry unused bits only if the decoder were
             * lax; canonical decoding refuses that, so any change must fail. */
            fprintf(stderr, "fuzz_token: a modified token was accepted\n");
            abort();
        }
        sts_token_cleanup(&out);
    } else if ((data[0] & 1) && !mutated) {
        fprintf(stderr, "fuzz_token: an intact token was refused (%d)\n", rc);
        abort();
    }
    free(tok);
    return 0;
}
