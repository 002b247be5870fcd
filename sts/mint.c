/* mint.c -- the minter: the one place temporary credentials are made (DESIGN §2). The one
 * federation function (sts/federate.c) builds a struct sts_session from a backend's claims
 * and calls sts_mint and sts_audit_issue; the STS endpoint answers with sts_reply_creds, the
 * browser login with its credentials page. No backend seals tokens or derives secrets.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/buf.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/xml.h"
#include "sts/sts_int.h"

void sts_time_expiration(time_t t, char *out)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ARN-legal (AWS's role session name set [\w+=,.@-]): letters, digits and _+=,.@- */
static bool arn_legal(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch != '\0' && strchr("_+=,.@-", ch) != NULL);
}

/* The readable hint of a federated parent: the subject of an OpenID "ISSUER#SUB", the value
 * of an LDAP DN's first RDN ("uid=bob,dc=x" -> "bob"), else the parent; at most 20 bytes, each
 * byte outside the ARN-legal set written as '_'. Cosmetic: the digest makes the name unique. */
static void federated_hint(const char *parent, char out[STS_FED_HINT_MAX + 1])
{
    const char *p = parent, *hash = strchr(parent, '#'), *eq = strchr(parent, '=');
    size_t n = 0;

    if (hash != NULL)
        p = hash + 1;
    else if (eq != NULL)
        p = eq + 1;
    for (; *p != '\0' && n < STS_FED_HINT_MAX; p++) {
        if (hash == NULL && eq != NULL && (*p == ',' || *p == '+'))
            break;
        out[n++] = arn_legal(*p) ? *p : '_';
    }
    out[n] = '\0';
}

char *sts_federated_name(const char *source, const char *parent)
{
    const char *kind = source;
    char hint[STS_FED_HINT_MAX + 1];
    uint8_t md[32];
    struct buf in, b;
    char *digest;

    /* OpenID web identity and client grants are one identity (as MinIO's parent user). */
    if (strcmp(source, "oidc") == 0 || strcmp(source, "clientgrants") == 0)
        kind = "openid";
    buf_init(&in, 16384);
    buf_addf(&in, "tessera-federated-user:%zu:%s:%zu:%s", strlen(kind), kind, strlen(parent),
             parent);
    if (buf_failed(&in)) {
        buf_free(&in);
        return NULL;
    }
    enc_sha256(buf_str(&in), strlen(buf_str(&in)), md);
    buf_free(&in);
    digest = enc_b64url(md, STS_FED_DIGEST_BYTES);
    if (digest == NULL)
        return NULL;
    federated_hint(parent, hint);
    buf_init(&b, 128);
    buf_addf(&b, "%s%s%s", hint, hint[0] != '\0' ? "." : "", digest);
    free(digest);
    return buf_take(&b, NULL);
}

/* A role-less session of a static user or root: it acts as its parent (as MinIO). */
static bool parent_session(const char *role, const char *source)
{
    return role == NULL && source != NULL &&
           (strcmp(source, "static") == 0 || strcmp(source, "root") == 0);
}

char *sts_session_arn(const char *role, const char *parent, const char *source,
                      const char *session_name, const char *access_key)
{
    struct buf b;
    char *name;

    buf_init(&b, 8192);
    if (role != NULL) {
        buf_addf(&b, "arn:aws:sts::%s:assumed-role/%s/%s", STS_ACCOUNT_ID, role,
                 session_name != NULL ? session_name : access_key);
    } else if (parent_session(role, source) && strcmp(source, "root") == 0) {
        buf_addf(&b, "arn:aws:iam::%s:root", STS_ACCOUNT_ID);
    } else if (parent_session(role, source)) {
        buf_addf(&b, "arn:aws:iam::%s:user/%s", STS_ACCOUNT_ID,
                 parent != NULL ? parent : access_key);
    } else {
        if (parent == NULL || source == NULL ||
            (name = sts_federated_name(source, parent)) == NULL) {
            buf_free(&b);
            return NULL;
        }
        buf_addf(&b, "arn:aws:sts::%s:federated-user/%s", STS_ACCOUNT_ID, name);
        free(name);
    }
    return buf_take(&b, NULL);
}

void sts_role_id(const char *role, char out[STS_ROLE_ID_LEN + 1])
{
    static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    uint8_t md[32];

    /* "AROA" and 17 base32 characters of the digest of the name (85 bits). */
    enc_sha256(role, strlen(role), md);
    memcpy(out, "AROA", 4);
    for (size_t i = 0; i < STS_ROLE_ID_LEN - 4; i++) {
        size_t bit = i * 5;
        unsigned v = ((unsigned)md[bit / 8] << 8 | md[bit / 8 + 1]) >> (11 - bit % 8);
        out[4 + i] = b32[v & 31];
    }
    out[STS_ROLE_ID_LEN] = '\0';
}

char *sts_session_userid(const char *role, const char *parent, const char *source,
                         const char *session_name, const char *access_key)
{
    char rid[STS_ROLE_ID_LEN + 1], *name;
    struct buf b;

    buf_init(&b, 256);
    if (role != NULL) {
        sts_role_id(role, rid);
        buf_addf(&b, "%s:%s", rid, session_name != NULL ? session_name : access_key);
    } else if (parent_session(role, source)) {
        if (session_name != NULL)
            buf_addf(&b, "%s:%s", access_key, session_name);
        else
            buf_adds(&b, access_key);
    } else {
        if (parent == NULL || source == NULL ||
            (name = sts_federated_name(source, parent)) == NULL) {
            buf_free(&b);
            return NULL;
        }
        buf_addf(&b, "%s:%s", STS_ACCOUNT_ID, name);
        free(name);
    }
    return buf_take(&b, NULL);
}

void sts_creds_cleanup(struct sts_creds *cr)
{
    if (cr == NULL)
        return;
    if (cr->session_token != NULL)
        free(cr->session_token);
    free(cr->arn);
    free(cr->role_id);
    OPENSSL_cleanse(cr, sizeof *cr);
}

int sts_mint(struct sts_ctx *c, const struct sts_session *s, struct sts_creds *out)
{
    struct sts_token t = {0};
    struct sts_creds cr;
    int rc = TS_E_INTERNAL;

    memset(&cr, 0, sizeof cr);
    if (s == NULL || s->parent == NULL || *s->parent == '\0' || s->source == NULL ||
        s->duration < 1 || s->duration > c->cfg.max_duration)
        return TS_E_INVALID_ARGUMENT;
    if (sts_new_access_key(t.access_key) != 0)
        return TS_E_INTERNAL;
    t.issued_ns = iam_now_ns();
    t.issued = (time_t)(t.issued_ns / 1000000000);
    t.expires = t.issued + s->duration;
    /* The token borrows the session's strings: sts_seal only reads them. */
    t.parent = (char *)s->parent;
    t.username = (char *)s->username;
    t.source = (char *)s->source;
    t.session_policy = (char *)s->session_policy;
    t.session_name = (char *)s->session_name;
    t.role_arn = (char *)s->role_arn;
    t.role = (char *)s->role;
    t.policies.v = (char **)s->policies;
    t.policies.n = s->npolicies;
    t.session_policies.v = (char **)s->session_policies;
    t.session_policies.n = s->nsession_policies;
    t.claims = (struct http_kv *)s->claims;
    t.nclaims = s->nclaims;
    rc = sts_seal(c, &t, &cr.session_token, cr.secret_key);
    if (rc != TS_OK)
        goto fail;
    memcpy(cr.access_key, t.access_key, sizeof cr.access_key);
    cr.issued = t.issued;
    cr.packed_policy_size =
        sts_packed_policy_size(s->session_policy, s->session_policies, s->nsession_policies);
    cr.expires = t.expires;
    cr.arn = sts_session_arn(s->role, s->parent, s->source, s->session_name, cr.access_key);
    cr.role_id = sts_session_userid(s->role, s->parent, s->source, s->session_name, cr.access_key);
    if (cr.arn == NULL || cr.role_id == NULL) {
        rc = TS_E_INTERNAL;
        goto fail;
    }
    *out = cr;
    memset(&cr, 0, sizeof cr);
    rc = TS_OK;
fail:
    sts_creds_cleanup(&cr);
    return rc;
}

int sts_reply_creds(struct http_req *r, const char *action, const struct sts_creds *cr,
                    const char *extra_xml)
{
    char resp[96], result[96], exp[32];
    struct buf b;
    size_t len;
    char *body;
    int rc;

    snprintf(resp, sizeof resp, "%sResponse", action);
    snprintf(result, sizeof result, "%sResult", action);
    sts_time_expiration(cr->expires, exp);
    buf_init(&b, 64 * 1024);
    xml_open(&b, resp, STS_XMLNS);
    xml_open(&b, result, NULL);
    if (extra_xml != NULL)
        buf_adds(&b, extra_xml);
    if (cr->arn != NULL) { /* GetSessionToken answers without it (AWS) */
        xml_open(&b, "AssumedRoleUser", NULL);
        xml_elem(&b, "Arn", cr->arn);
        xml_elem(&b, "AssumedRoleId", cr->role_id);
        xml_close(&b, "AssumedRoleUser");
    }
    xml_open(&b, "Credentials", NULL);
    xml_elem(&b, "AccessKeyId", cr->access_key);
    xml_elem(&b, "SecretAccessKey", cr->secret_key);
    xml_elem(&b, "SessionToken", cr->session_token);
    xml_elem(&b, "Expiration", exp);
    xml_close(&b, "Credentials");
    if (cr->packed_policy_size >= 0) {
        char packed[24];
        snprintf(packed, sizeof packed, "%ld", cr->packed_policy_size);
        xml_elem(&b, "PackedPolicySize", packed);
    }
    xml_close(&b, result);
    xml_open(&b, "ResponseMetadata", NULL);
    xml_elem(&b, "RequestId", r->request_id);
    xml_close(&b, "ResponseMetadata");
    xml_close(&b, resp);
    body = buf_take(&b, &len);
    if (body == NULL)
        return TS_E_INTERNAL;

    rc = http_reply_data(r, 200, "text/xml", body, len, false);
    OPENSSL_cleanse(body, len);
    free(body);
    return rc;
}

void sts_audit_issue(struct http_req *r, const char *action, const struct sts_session *s,
                     const struct sts_creds *cr)
{
    char exp[32], labels[64], dur[24];
    struct buf pols, spols;
    /* who: the identity proven and the credentials it got (the caller of an unsigned login
     * is that identity); never the secret or the token */
    struct log_actor who = {cr->access_key, cr->arn, r->source_ip, r->request_id};

    sts_time_expiration(cr->expires, exp);
    snprintf(dur, sizeof dur, "%lld", (long long)(cr->expires - cr->issued));
    buf_init(&pols, 8192);
    for (size_t i = 0; i < s->npolicies; i++)
        buf_addf(&pols, "%s%s", i ? "," : "", s->policies[i]);
    buf_init(&spols, 4096);
    for (size_t i = 0; i < s->nsession_policies; i++)
        buf_addf(&spols, "%s%s", i ? "," : "", s->session_policies[i]);
    log_audit(&who, "sts.issue", "issued", "action", action, "user", s->parent, "backend",
              s->source, "arn", cr->arn, "userid", cr->role_id, "policies", buf_str(&pols),
              "session_policy", s->session_policy ? "yes" : "no", "session_policies",
              s->nsession_policies > 0 ? buf_str(&spols) : NULL, "session", s->session_name,
              "expires", exp, "#duration", dur, NULL);
    buf_free(&pols);
    buf_free(&spols);
    snprintf(labels, sizeof labels, "backend=\"%s\"",
             s->source && strlen(s->source) < 32 ? s->source : "unknown");
    metrics_inc("tessera_sts_issued_total", "Temporary credentials issued, by backend.", labels, 1);
}
