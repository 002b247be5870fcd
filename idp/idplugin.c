/* idplugin.c -- the identity management plugin client (idp/idplugin.h) over the one outbound
 * HTTP client (core/curlx.h) and jansson. */
#include "idp/idplugin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "core/buf.h"
#include "core/curlx.h"
#include "core/enc.h"
#include "core/log.h"

struct idplugin {
    char *url, *auth_header, *role_arn;
    struct iam_strv policies;
    long timeout_ms;
    const char *ca_file;
    char *const *ca_extra;
};

void idplugin_free(struct idplugin *p)
{
    if (p == NULL)
        return;
    free(p->url);
    enc_secret_free(p->auth_header);
    free(p->role_arn);
    iam_strv_free(&p->policies);
    free(p);
}

/* Splits the comma-separated role policy (spaces around names dropped) into sv. */
static int split_policies(const char *list, struct iam_strv *sv)
{
    const char *p = list;

    while (*p != '\0') {
        size_t n = strcspn(p, ",");
        const char *s = p;
        while (n > 0 && *s == ' ')
            s++, n--;
        while (n > 0 && s[n - 1] == ' ')
            n--;
        if (n > 0) {
            char *name = strndup(s, n);
            int rc = name != NULL ? idp_strv_add(sv, name) : TS_E_INTERNAL;
            free(name);
            if (rc != TS_OK)
                return rc;
        }
        p += strcspn(p, ",");
        if (*p == ',')
            p++;
    }
    return TS_OK;
}

int idplugin_new(const struct idplugin_config *c, struct idplugin **out, struct ts_error *err)
{
    struct idplugin *p = calloc(1, sizeof *p);
    struct buf b;

    *out = NULL;
    if (p == NULL)
        return ts_error_set(err, TS_E_INTERNAL, NULL);
    if (c->url == NULL || c->role_policy == NULL) {
        idplugin_free(p);
        return ts_error_set(err, TS_E_INVALID_ARGUMENT,
                            "the identity plugin needs TESSERA_IDENTITY_PLUGIN_URL and "
                            "TESSERA_IDENTITY_PLUGIN_ROLE_POLICY");
    }
    buf_init(&b, 8192);
    if (c->auth_token != NULL)
        buf_addf(&b, "Authorization: %s%s", strchr(c->auth_token, ' ') ? "" : "Bearer ",
                 c->auth_token);
    p->auth_header = c->auth_token != NULL ? buf_take(&b, NULL) : NULL;
    buf_free(&b);
    buf_init(&b, 256);
    buf_addf(&b, "arn:minio:iam:::role/idmp-%s", c->role_id != NULL ? c->role_id : "tessera");
    p->role_arn = buf_take(&b, NULL);
    p->url = strdup(c->url);
    p->timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : 5000;
    p->ca_file = c->ca_file;
    p->ca_extra = c->ca_extra;
    if (p->url == NULL || p->role_arn == NULL || (c->auth_token != NULL && !p->auth_header) ||
        split_policies(c->role_policy, &p->policies) != TS_OK) {
        idplugin_free(p);
        return ts_error_set(err, TS_E_INTERNAL, NULL);
    }
    if (p->policies.n == 0) {
        idplugin_free(p);
        return ts_error_set(err, TS_E_INVALID_ARGUMENT,
                            "TESSERA_IDENTITY_PLUGIN_ROLE_POLICY names no policy");
    }
    *out = p;
    return TS_OK;
}

const char *idplugin_role_arn(const struct idplugin *p)
{
    return p->role_arn;
}

/* Adds claim key (one value, or each string of an array) as jwt:KEY; other JSON types as
 * their text (numbers, booleans); objects and null are skipped. */
static int add_claim(struct idp_claims *out, const char *key, json_t *v)
{
    char name[160], text[64];
    size_t i;
    json_t *it;

    if (!idp_name_ok(key) || strlen(key) > 128)
        return TS_OK;
    snprintf(name, sizeof name, "jwt:%s", key);
    if (json_is_string(v))
        return idp_claims_add_var(out, name, json_string_value(v));
    if (json_is_integer(v) || json_is_real(v) || json_is_boolean(v)) {
        if (json_is_integer(v))
            snprintf(text, sizeof text, "%lld", (long long)json_integer_value(v));
        else if (json_is_real(v))
            snprintf(text, sizeof text, "%g", json_real_value(v));
        else
            snprintf(text, sizeof text, "%s", json_is_true(v) ? "true" : "false");
        return idp_claims_add_var(out, name, text);
    }
    if (json_is_array(v))
        json_array_foreach(v, i, it) if (json_is_string(it) &&
                                         idp_claims_add_var(out, name, json_string_value(it)) !=
                                             TS_OK) return TS_E_INTERNAL;
    return TS_OK;
}

/* The claims the session itself defines are not taken from the plugin (as MinIO). */
static bool reserved_claim(const char *k)
{
    static const char *const reserved[] = {"sub", "parent", "roleArn", "exp", "accessKey"};
    for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++)
        if (strcmp(k, reserved[i]) == 0)
            return true;
    return false;
}

static int unusable(struct ts_error *err, const char *why)
{
    log_kv(LOG_WARN, "idplugin.answer", "error", why, NULL);
    return ts_error_set(err, TS_E_STS_IDP_COMMUNICATION,
                        "The identity plugin gave an unusable answer: %s", why);
}

/* Fills the identity of user (checked) into out. */
static int identity(const struct idplugin *p, const char *user, json_int_t maxv,
                    struct idp_claims *out)
{
    struct buf b;

    buf_init(&b, 1024);
    buf_addf(&b, "custom:%s", user);
    out->kind = IDP_CUSTOM;
    out->source = "custom";
    out->provider = strdup("custom");
    out->username = strdup(user);
    out->parent = buf_take(&b, NULL);
    out->subject = out->parent != NULL ? strdup(out->parent) : NULL;
    out->role_arn = strdup(p->role_arn);
    out->max_duration = (long)(maxv > 365L * 86400 ? 365L * 86400 : maxv);
    if (out->provider == NULL || out->username == NULL || out->parent == NULL ||
        out->subject == NULL || out->role_arn == NULL ||
        idp_strv_add(&out->federated, "custom") != TS_OK ||
        idp_claims_add_var(out, "jwt:sub", out->parent) != TS_OK)
        return TS_E_INTERNAL;
    for (size_t i = 0; i < p->policies.n; i++)
        if (idp_strv_add(&out->policies, p->policies.v[i]) != TS_OK)
            return TS_E_INTERNAL;
    return TS_OK;
}

int idplugin_parse(const struct idplugin *p, const char *body, size_t len, struct idp_claims *out,
                   struct ts_error *err)
{
    json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL), *user, *maxv, *claims, *v;
    const char *k;
    size_t nclaims = 0;
    int rc;

    memset(out, 0, sizeof *out);
    if (!json_is_object(o)) {
        json_decref(o);
        return unusable(err, "not a JSON object");
    }
    user = json_object_get(o, "user");
    maxv = json_object_get(o, "maxValiditySeconds");
    claims = json_object_get(o, "claims");
    if (!json_is_string(user) || json_string_length(user) == 0 || json_string_length(user) > 128 ||
        !json_is_integer(maxv) || json_integer_value(maxv) < 1 ||
        (claims != NULL && !json_is_object(claims) && !json_is_null(claims))) {
        json_decref(o);
        return unusable(err, "user, maxValiditySeconds or claims missing or malformed");
    }
    if (!idp_name_ok(json_string_value(user))) {
        json_decref(o);
        return ts_error_set(err, TS_E_STS_ACCESS_DENIED,
                            "The identity plugin named a user that cannot be used.");
    }
    rc = identity(p, json_string_value(user), json_integer_value(maxv), out);
    if (json_is_object(claims))
        json_object_foreach(claims, k, v) if (rc == TS_OK && !reserved_claim(k) &&
                                              nclaims++ < IDPLUGIN_MAX_CLAIMS) rc =
            add_claim(out, k, v);
    json_decref(o);
    if (rc != TS_OK) {
        idp_claims_cleanup(out);
        return ts_error_set(err, TS_E_INTERNAL, NULL);
    }
    return TS_OK;
}

/* The reason of a 403 answer, when it is printable text of a sane length. */
static int refused(const struct curlx_resp *rs, struct ts_error *err)
{
    json_t *o = json_loadb(buf_str(&rs->body), rs->body.len, 0, NULL);
    json_t *r = json_object_get(o, "reason");
    const char *reason = json_is_string(r) ? json_string_value(r) : NULL;
    int rc;

    if (reason != NULL && (!idp_name_ok(reason) || strlen(reason) > IDPLUGIN_MAX_REASON))
        reason = NULL;
    rc = ts_error_set(err, TS_E_STS_ACCESS_DENIED, "The identity plugin refused the token%s%s",
                      reason != NULL ? ": " : ".", reason != NULL ? reason : "");
    json_decref(o);
    return rc;
}

int idplugin_authenticate(struct idplugin *p, const char *token, struct idp_claims *out,
                          struct ts_error *err)
{
    const char *hdr[] = {p->auth_header, NULL};
    char *etok = enc_uri_encode(token, strlen(token), false);
    struct curlx_resp rs;
    struct buf url;
    int rc;

    memset(out, 0, sizeof *out);
    if (etok == NULL)
        return ts_error_set(err, TS_E_INTERNAL, NULL);
    buf_init(&url, 64 * 1024);
    buf_addf(&url, "%s%stoken=%s", p->url, strchr(p->url, '?') ? "&" : "?", etok);
    enc_secret_free(etok);
    struct curlx_req rq = {
        .url = buf_str(&url),
        .method = "POST",
        .body = "",
        .body_len = 0,
        .hdr = hdr,
        .connect_timeout_ms = p->timeout_ms,
        .timeout_ms = p->timeout_ms,
        .max_body = IDPLUGIN_MAX_ANSWER,
        .ca_file = p->ca_file,
        .ca_extra = p->ca_extra,
    };
    if (buf_failed(&url)) {
        buf_free(&url);
        return ts_error_set(err, TS_E_INTERNAL, NULL);
    }
    if (curlx_perform(&rq, &rs) != 0) {
        log_kv(LOG_WARN, "idplugin.call", "error",
               rs.too_big ? "answer too large" : curl_easy_strerror(rs.cc), NULL);
        rc = ts_error_set(err, TS_E_STS_IDP_COMMUNICATION,
                          "The identity plugin could not be reached or did not answer in time%s",
                          rs.too_big ? " (answer too large)" : ".");
    } else if (rs.status == 200) {
        rc = idplugin_parse(p, buf_str(&rs.body), rs.body.len, out, err);
    } else if (rs.status == 403) {
        rc = refused(&rs, err);
    } else {
        char st[32];
        snprintf(st, sizeof st, "status %ld", rs.status);
        rc = unusable(err, st);
    }
    if (url.p != NULL)
        OPENSSL_cleanse(url.p, url.len);
    buf_free(&url);
    curlx_resp_free(&rs);
    return rc;
}
