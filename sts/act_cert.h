/* act_cert.h -- the client-certificate identity backend (idp/idp.h) of AssumeRoleWithCertificate
 * (MinIO's STS extension). The proof is the TLS client certificate of the request's connection
 * (core/http.h, http_req_peer_chain): its chain is verified with OpenSSL against the trusted CAs
 * only (CERTS_DIR/CAs/ and TESSERA_IDENTITY_TLS_CA_FILE, never the system store), for client
 * authentication; its subject CN names a tessera user, whose session it gets (as AssumeRole:
 * the user's current policies, revoked with the user), never past the certificate's notAfter.
 */
#ifndef TS_STS_ACT_CERT_H
#define TS_STS_ACT_CERT_H

#include <stdbool.h>
#include <stddef.h>

struct sts_ctx;
struct sts_cert;

struct sts_cert_config {
    bool enable;             /* TESSERA_IDENTITY_TLS_ENABLE */
    bool skip_verify;        /* TESSERA_IDENTITY_TLS_SKIP_VERIFY: tests only */
    const char *certs_dir;   /* --certs: the server's TLS (required when enabled); CAs/ trusted */
    const char *ca_file;     /* TESSERA_IDENTITY_TLS_CA_FILE: a PEM bundle that must load */
    const char *server_cert; /* CERTS_DIR/public.crt: the issuer list offered when nothing is
                              * trusted (skip_verify), so that clients still send certificates */
};

/* Plugs the backend into c's AssumeRoleWithCertificate. Disabled, the action answers MinIO's
 * 503 STSNotInitialized. Enabled, it needs TLS and (unless skip_verify) at least one trusted
 * CA. *out (sts_cert_free, after the server stopped) holds the trust; NULL when disabled.
 * Returns TS_OK, or an error with a message for the operator in err. */
int sts_cert_register(struct sts_ctx *c, const struct sts_cert_config *cfg, struct sts_cert **out,
                      char *err, size_t errlen);
/* The PEM certificates the listener offers as acceptable issuers (http_config.client_ca_pem):
 * asking for client certificates; NULL when k is NULL. */
const char *sts_cert_client_ca_pem(const struct sts_cert *k);
void sts_cert_free(struct sts_cert *k);

#endif
