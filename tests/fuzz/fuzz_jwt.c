/* fuzz_jwt.c -- JWT handling in idp/oidc.c and idp/jwks.c: oidc_verify's shape checks and
 * the header and payload decoding (base64url, depth limit, JSON, alg/crit/jwk/kid rules,
 * iss/aud/exp claims) up to the signature check, against a configured provider whose
 * discovery URL is unreachable (so no key ever verifies); and oidc_keyset_parse on JWKS
 * documents. byte 0 even: the rest is a token; odd: the rest is a JWKS document. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "idp/idp.h"
#include "idp/oidc.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct oidc_providers *ps;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    /* Port 1 on loopback refuses at once: the refresher fails quickly and keeps no key. */
    setenv("TESSERA_IDENTITY_OPENID_CONFIG_URL",
           "http://127.0.0.1:1/.well-known/openid-configuration", 1);
    setenv("TESSERA_IDENTITY_OPENID_CLIENT_ID", "tessera", 1);
    setenv("TESSERA_IDENTITY_OPENID_CLAIM_NAME", "policy", 1);
    if (oidc_providers_new(NULL, &ps) != TS_OK || oidc_providers_count(ps) != 1) {
        fprintf(stderr, "fuzz_jwt: provider setup failed\n");
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *s = fz_strndup(data + 1, size - 1);
    if ((data[0] & 1) == 0) {
        struct idp_claims c;
        struct ts_error e = {TS_OK, ""};
        memset(&c, 0, sizeof c);
        int rc = oidc_verify(ps, s, NULL, (data[0] & 2) != 0, &c, &e);
        if (rc == TS_OK) {
            fprintf(stderr, "fuzz_jwt: a token verified without any key\n");
            abort();
        }
        if (e.code != rc || e.msg[0] == '\0')
            abort();
    } else {
        const char *why = NULL;
        (void)oidc_json_too_deep(s, size - 1, OIDC_MAX_JSON_DEPTH);
        struct oidc_keyset *ks = oidc_keyset_parse(s, size - 1, &why);
        if (ks != NULL) {
            (void)oidc_keyset_count(ks);
            oidc_keyset_release(ks);
        }
    }
    free(s);
    return 0;
}
