/* s3_cors.c -- cross-origin resource sharing (CORS) as S3 does it, for both backends:
 * - the bucket's CORSConfiguration (Put/Get/DeleteBucketCors), checked with AWS's rules by
 *   cors_parse, the one reader of the document, which writes it back in a canonical form;
 * - the preflight route: `OPTIONS /bucket[/key]` answered from the rules, without
 *   authentication (a browser sends no credentials with a preflight), before the S3 route;
 * - the Access-Control-* headers of an actual request (any method, with an Origin header) that
 *   a rule allows, added by the S3 route's prepare hook before authentication, so that every
 *   answer carries them, errors included (a browser can then read a 403 or a 404).
 *
 * Where the configuration is kept: the embedded store keeps the canonical document as the
 * bucket's "cors" configuration (bucket_conf, written in one LMDB commit, removed with the
 * bucket); the gateway keeps it in tessera's IAM store, as it keeps bucket policies (s3_gw.c:
 * s3_gw_cors_get). Every cross-origin request reads it again (one read, one small parse).
 * Docs: docs/API.md "CORS", docs/GATEWAY.md. */
#include "objstore/s3_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "core/log.h"
#include "core/xml.h"

#define CORS_MAX_RULES 100
#define CORS_MAX_DOC (64u << 10) /* AWS's limit of the document */
#define CORS_MAX_ID 255          /* characters */
#define CORS_MAX_AGE 2147483647L
#define CORS_VARY "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"

#define MSG_NO_ORIGIN "Insufficient information. Origin request header needed."
#define MSG_NO_BUCKET "CORSResponse: Bucket not found"
#define MSG_NOT_ENABLED "CORSResponse: CORS is not enabled for this bucket."

static const char *const cors_methods[] = {"GET", "PUT", "HEAD", "POST", "DELETE"};

/* ---- the document ---- */

static size_t count_char(const char *s, char ch)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == ch;
    return n;
}

/* An HTTP field name (RFC 9110 token): what may be sent back in a header. */
static bool is_token(const char *s)
{
    if (*s == 0)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && strchr("!#$%&'*+-.^_`|~", *s) == NULL)
            return false;
    return true;
}

static bool method_known(const char *m)
{
    for (size_t i = 0; i < sizeof cors_methods / sizeof *cors_methods; i++)
        if (strcmp(m, cors_methods[i]) == 0)
            return true;
    return false;
}

/* Characters of UTF-8 text s (continuation bytes not counted). */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

/* One element of a CORSRule: TS_OK, or the error of AWS (e filled). *age gets MaxAgeSeconds. */
static int cors_check_elem(const struct xml_node *n, long *age, struct ts_error *e)
{
    const char *t = n->text;
    if (n->child != NULL)
        return ts_error_set(e, TS_E_MALFORMED_XML, NULL);
    if (strcmp(n->name, "AllowedOrigin") == 0 && count_char(t, '*') > 1)
        return ts_error_set(e, TS_E_INVALID_REQUEST,
                            "AllowedOrigin \"%.256s\" can not have more than one wildcard.", t);
    if (strcmp(n->name, "AllowedMethod") == 0 && !method_known(t))
        return ts_error_set(e, TS_E_INVALID_REQUEST,
                            "Found unsupported HTTP method in CORS config. Unsupported method is "
                            "%.64s",
                            t);
    if (strcmp(n->name, "AllowedHeader") == 0 && count_char(t, '*') > 1)
        return ts_error_set(e, TS_E_INVALID_REQUEST,
                            "AllowedHeader \"%.256s\" can not have more than one wildcard.", t);
    if (strcmp(n->name, "ExposeHeader") == 0 && strchr(t, '*') != NULL)
        return ts_error_set(e, TS_E_INVALID_REQUEST,
                            "ExposeHeader \"%.256s\" contains wildcard. We currently do not "
                            "support wildcard for ExposeHeader.",
                            t);
    if (strcmp(n->name, "ExposeHeader") == 0 && !is_token(t))
        return ts_error_set(e, TS_E_INVALID_REQUEST,
                            "ExposeHeader \"%.256s\" contains invalid character.", t);
    if (strcmp(n->name, "ID") == 0 && utf8_chars(t) > CORS_MAX_ID)
        return ts_error_set(e, TS_E_INVALID_ARGUMENT,
                            "The ID of a CORSRule cannot be longer than 255 characters.");
    if (strcmp(n->name, "MaxAgeSeconds") == 0) {
        char *end;
        long v = t[0] >= '0' && t[0] <= '9' ? strtol(t, &end, 10) : -1;
        if (v < 0 || *end || v > CORS_MAX_AGE)
            return ts_error_set(e, TS_E_MALFORMED_XML, NULL);
        *age = v;
    }
    return TS_OK;
}

/* A CORSRule: each element known and valid, at least one AllowedOrigin and one AllowedMethod,
 * at most one ID and one MaxAgeSeconds (AWS's schema). */
static int cors_check_rule(const struct xml_node *rule, struct ts_error *e)
{
    static const char *const names[] = {
        "AllowedOrigin", "AllowedMethod", "AllowedHeader", "ExposeHeader", "ID", "MaxAgeSeconds"};
    size_t count[6] = {0};
    long age;
    for (const struct xml_node *n = rule->child; n; n = n->next) {
        size_t i = 0;
        while (i < 6 && strcmp(n->name, names[i]) != 0)
            i++;
        if (i == 6)
            return ts_error_set(e, TS_E_MALFORMED_XML, NULL);
        count[i]++;
        int rc = cors_check_elem(n, &age, e);
        if (rc != TS_OK)
            return rc;
    }
    if (count[0] == 0 || count[1] == 0 || count[4] > 1 || count[5] > 1)
        return ts_error_set(e, TS_E_MALFORMED_XML, NULL);
    return TS_OK;
}

/* Parses and checks a CORSConfiguration of len bytes: TS_OK with *out (xml_free), or the error
 * (e filled; *out NULL): MalformedXML (not XML, no rule, more than CORS_MAX_RULES, a rule
 * without origin or method, an unknown element), InvalidRequest (an unknown method, two
 * wildcards, a wildcard or a non-token in ExposeHeader), InvalidArgument (ID too long). */
static int cors_parse(const char *doc, size_t len, struct xml_node **out, struct ts_error *e)
{
    struct xml_node *x = xml_parse(doc, len);
    size_t n = 0;
    int rc = x != NULL && strcmp(x->name, "CORSConfiguration") == 0
                 ? TS_OK
                 : ts_error_set(e, TS_E_MALFORMED_XML, NULL);
    for (const struct xml_node *r = x ? x->child : NULL; r && rc == TS_OK; r = r->next)
        rc = strcmp(r->name, "CORSRule") != 0 || ++n > CORS_MAX_RULES
                 ? ts_error_set(e, TS_E_MALFORMED_XML, NULL)
                 : cors_check_rule(r, e);
    if (rc == TS_OK && n == 0)
        rc = ts_error_set(e, TS_E_MALFORMED_XML, NULL);
    if (rc != TS_OK) {
        xml_free(x);
        x = NULL;
    }
    *out = x;
    return rc;
}

/* Writes every child of rule named name as <name>text</name>. */
static void cors_write_elems(struct buf *b, const struct xml_node *rule, const char *name)
{
    for (const struct xml_node *n = rule->child; n; n = n->next)
        if (strcmp(n->name, name) == 0)
            xml_elem(b, name, n->text);
}

/* The canonical document of a checked configuration into b (AWS's element order). */
static void cors_write(struct buf *b, const struct xml_node *cfg)
{
    static const char *const order[] = {"ID", "AllowedHeader", "AllowedMethod", "AllowedOrigin",
                                        "ExposeHeader"};
    s3_xml_start(b, 2 * CORS_MAX_DOC, "CORSConfiguration");
    for (const struct xml_node *r = cfg->child; r; r = r->next) {
        xml_open(b, "CORSRule", NULL);
        for (size_t i = 0; i < sizeof order / sizeof *order; i++)
            cors_write_elems(b, r, order[i]);
        const char *age = xml_child_text(r, "MaxAgeSeconds");
        if (age != NULL)
            xml_elemf(b, "MaxAgeSeconds", "%ld", strtol(age, NULL, 10));
        xml_close(b, "CORSRule");
    }
    xml_close(b, "CORSConfiguration");
}

int s3_cors_body(struct s3_ctx *c, char **doc, size_t *len)
{
    struct ts_error local = {TS_OK, ""};
    struct xml_node *cfg = NULL;
    struct buf b;
    *doc = NULL;
    int rc = s3_body_md5_check(c);
    if (rc != TS_OK)
        return rc;
    if (c->r->body == NULL || c->r->body_len == 0)
        return TS_E_MISSING_REQUEST_BODY;
    if (c->r->body_len > CORS_MAX_DOC)
        return s3_fail(c, TS_E_MAX_MESSAGE_LENGTH,
                       "The CORS configuration is limited to 64 KB in size.");
    rc = cors_parse((const char *)c->r->body, c->r->body_len, &cfg, c->e ? c->e : &local);
    if (rc != TS_OK)
        return rc;
    cors_write(&b, cfg);
    xml_free(cfg);
    *doc = buf_failed(&b) ? NULL : buf_take(&b, len);
    buf_free(&b);
    return *doc != NULL ? TS_OK : TS_E_INTERNAL;
}

int s3_cors_body_start(struct s3_ctx *c)
{
    c->r->body_max = CORS_MAX_DOC;
    if (c->r->has_content_length && c->r->content_length > CORS_MAX_DOC)
        return s3_fail(c, TS_E_MAX_MESSAGE_LENGTH,
                       "The CORS configuration is limited to 64 KB in size.");
    return TS_OK;
}

/* ---- the embedded store's operations ---- */

int s3_put_bucket_cors(struct s3_ctx *c)
{
    char *doc;
    size_t len;
    int rc = s3_cors_body(c, &doc, &len);
    if (rc == TS_OK)
        rc = obj_bconf_put(c->st, c->bucket, "cors", doc, len);
    free(doc);
    return s3_reply_done(c, rc, 200);
}

int s3_get_bucket_cors(struct s3_ctx *c)
{
    void *doc;
    size_t len;
    int rc = obj_bconf_get(c->st, c->bucket, "cors", &doc, &len);
    if (rc == TS_OK && doc == NULL)
        return TS_E_NO_SUCH_CORS;
    if (rc != TS_OK)
        return rc;
    return http_reply_data(c->r, 200, "application/xml", doc, len, true);
}

int s3_delete_bucket_cors(struct s3_ctx *c)
{
    return s3_reply_done(c, obj_bconf_put(c->st, c->bucket, "cors", NULL, 0), 204);
}

/* ---- matching a request ---- */

/* Whether s matches pat, which holds at most one '*' standing for any run of characters (the
 * empty one too); anchored at both ends. */
static bool wild_match(const char *pat, const char *s, size_t slen, bool nocase)
{
    const char *star = strchr(pat, '*');
    size_t plen = strlen(pat);
    if (star == NULL)
        return plen == slen && (nocase ? strncasecmp(pat, s, slen) : strncmp(pat, s, slen)) == 0;
    size_t pre = (size_t)(star - pat), suf = plen - pre - 1;
    if (slen < pre + suf)
        return false;
    if (nocase)
        return strncasecmp(pat, s, pre) == 0 && strncasecmp(star + 1, s + slen - suf, suf) == 0;
    return strncmp(pat, s, pre) == 0 && strncmp(star + 1, s + slen - suf, suf) == 0;
}

/* Whether rule has an element name matching s (slen bytes). *star (may be NULL): the
 * matching pattern is "*" itself. */
static bool rule_has(const struct xml_node *rule, const char *name, const char *s, size_t slen,
                     bool nocase, bool *star)
{
    for (const struct xml_node *n = rule->child; n; n = n->next) {
        if (strcmp(n->name, name) == 0 && wild_match(n->text, s, slen, nocase)) {
            if (star != NULL)
                *star = strcmp(n->text, "*") == 0;
            return true;
        }
    }
    return false;
}

/* Calls fn on each name of a comma-separated header list (blanks trimmed, empty items skipped);
 * stops and returns false when fn does. */
static bool each_name(const char *list, bool (*fn)(void *ctx, const char *s, size_t n), void *ctx)
{
    const char *p = list;
    while (p != NULL && *p) {
        size_t len = strcspn(p, ",");
        const char *s = p, *end = p + len;
        while (s < end && (*s == ' ' || *s == '\t'))
            s++;
        while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        if (end > s && !fn(ctx, s, (size_t)(end - s)))
            return false;
        p += len + (p[len] == ',');
    }
    return true;
}

static bool header_allowed(void *rule, const char *s, size_t n)
{
    return rule_has(rule, "AllowedHeader", s, n, true, NULL);
}

/* The first rule of cfg that allows origin, method and every header of acrh (NULL: none), as
 * S3 evaluates them: origins and methods case-sensitive, header names not. *star: the origin
 * matched the pattern "*". */
static const struct xml_node *cors_find(const struct xml_node *cfg, const char *origin,
                                        const char *method, const char *acrh, bool *star)
{
    for (const struct xml_node *r = cfg->child; r; r = r->next)
        if (rule_has(r, "AllowedOrigin", origin, strlen(origin), false, star) &&
            rule_has(r, "AllowedMethod", method, strlen(method), false, NULL) &&
            each_name(acrh, header_allowed, (void *)r))
            return r;
    return NULL;
}

/* Joins the texts of rule's elements name with ", " into b. */
static void join_elems(struct buf *b, const struct xml_node *rule, const char *name)
{
    for (const struct xml_node *n = rule->child; n; n = n->next)
        if (strcmp(n->name, name) == 0)
            buf_addf(b, "%s%s", buf_len(b) ? ", " : "", n->text);
}

static bool add_lower(void *ctx, const char *s, size_t n)
{
    struct buf *b = ctx;
    if (buf_len(b))
        buf_adds(b, ", ");
    for (size_t i = 0; i < n; i++)
        buf_addf(b, "%c", tolower((unsigned char)s[i]));
    return true;
}

/* Adds header name with the value b holds (nothing when empty), then empties b. */
static void reply_joined(struct http_req *r, const char *name, struct buf *b)
{
    if (buf_len(b) > 0 && !buf_failed(b))
        http_reply_header(r, name, buf_str(b));
    buf_free(b);
    buf_init(b, 2 * CORS_MAX_DOC);
}

/* The Access-Control-* headers of rule for origin (star: the rule allows every origin, so
 * "*" and no credentials), with the requested headers acrh (a preflight's, lower-cased). */
static void cors_reply_headers(struct http_req *r, const struct xml_node *rule, const char *origin,
                               bool star, const char *acrh)
{
    struct buf b;
    char age[24];
    const char *max_age = xml_child_text(rule, "MaxAgeSeconds");
    buf_init(&b, 2 * CORS_MAX_DOC);
    http_reply_header(r, "Access-Control-Allow-Origin", star ? "*" : origin);
    join_elems(&b, rule, "AllowedMethod");
    reply_joined(r, "Access-Control-Allow-Methods", &b);
    each_name(acrh, add_lower, &b);
    reply_joined(r, "Access-Control-Allow-Headers", &b);
    join_elems(&b, rule, "ExposeHeader");
    reply_joined(r, "Access-Control-Expose-Headers", &b);
    buf_free(&b);
    if (max_age != NULL) {
        snprintf(age, sizeof age, "%ld", strtol(max_age, NULL, 10));
        http_reply_header(r, "Access-Control-Max-Age", age);
    }
    if (!star)
        http_reply_header(r, "Access-Control-Allow-Credentials", "true");
    http_reply_header(r, "Vary", CORS_VARY);
}

/* The bucket of r's path into out: false when the path names none that could exist. */
static bool path_bucket(const struct http_req *r, char out[64])
{
    const char *p = r->path != NULL && r->path[0] == '/' ? r->path + 1 : "";
    size_t n = strcspn(p, "/");
    if (n == 0 || n > 63)
        return false;
    memcpy(out, p, n);
    out[n] = 0;
    return obj_check_bucket(out) == TS_OK;
}

/* The configuration of bucket, parsed: TS_OK with *cfg (NULL: none), or TS_E_NO_SUCH_BUCKET
 * (the embedded store), or an error. A stored document that does not parse is an error
 * (logged): no rule then allows anything (fail closed). */
static int cors_load(struct obj_store *st, const char *bucket, struct xml_node **cfg)
{
    void *doc = NULL;
    size_t len = 0;
    struct ts_error e = {TS_OK, ""};
    *cfg = NULL;
    int rc = st->gw != NULL ? s3_gw_cors_get(st->gw, bucket, &doc, &len)
                            : obj_bconf_get(st, bucket, "cors", &doc, &len);
    if (rc == TS_OK && doc != NULL && cors_parse(doc, len, cfg, &e) != TS_OK) {
        log_event(LOG_ERROR, "s3.cors", "stored CORS configuration of %s does not parse", bucket);
        rc = TS_E_INTERNAL;
    }
    free(doc);
    return rc;
}

/* route->prepare of the S3 route: an actual request with an Origin header that a rule of its
 * bucket allows gets the rule's headers, whatever its answer. The method matched is the
 * Access-Control-Request-Method header when there is one, else the request's (as S3). */
void s3_cors_prepare(struct http_req *r)
{
    const char *origin = http_req_header(r, "Origin");
    const char *acrm = http_req_header(r, "Access-Control-Request-Method");
    struct xml_node *cfg;
    char bucket[64];
    bool star = false;
    if (origin == NULL || !path_bucket(r, bucket) ||
        cors_load(r->route->ctx, bucket, &cfg) != TS_OK || cfg == NULL)
        return;
    const struct xml_node *rule = cors_find(cfg, origin, acrm ? acrm : r->method, NULL, &star);
    if (rule != NULL)
        cors_reply_headers(r, rule, origin, star, NULL);
    xml_free(cfg);
}

/* ---- the preflight route ---- */

/* OPTIONS /bucket[/key]: 200 with the headers of the first rule that allows the Origin, the
 * Access-Control-Request-Method and every Access-Control-Request-Headers name; else 400
 * BadRequest (no Origin; no method once the bucket has rules) or 403 AccessForbidden (no such
 * bucket, no configuration, no rule), as S3 answers. */
static int s3_preflight(struct http_req *r, struct ts_error *e)
{
    const char *origin = http_req_header(r, "Origin");
    const char *acrm = http_req_header(r, "Access-Control-Request-Method");
    const char *acrh = http_req_header(r, "Access-Control-Request-Headers");
    struct xml_node *cfg = NULL;
    char bucket[64];
    bool star = false;
    if (origin == NULL)
        return ts_error_set(e, TS_E_BAD_REQUEST, MSG_NO_ORIGIN);
    int rc = path_bucket(r, bucket) ? cors_load(r->route->ctx, bucket, &cfg) : TS_E_NO_SUCH_BUCKET;
    if (rc == TS_E_NO_SUCH_BUCKET)
        return ts_error_set(e, TS_E_CORS_FORBIDDEN, MSG_NO_BUCKET);
    if (rc == TS_OK && cfg == NULL)
        return ts_error_set(e, TS_E_CORS_FORBIDDEN, MSG_NOT_ENABLED);
    if (rc == TS_OK && acrm == NULL)
        rc = ts_error_set(e, TS_E_BAD_REQUEST, "Invalid Access-Control-Request-Method: null");
    const struct xml_node *rule = rc == TS_OK ? cors_find(cfg, origin, acrm, acrh, &star) : NULL;
    if (rc == TS_OK && rule == NULL)
        rc = TS_E_CORS_FORBIDDEN;
    if (rc == TS_OK) {
        cors_reply_headers(r, rule, origin, star, acrh);
        rc = http_reply_data(r, 200, NULL, NULL, 0, false);
    }
    xml_free(cfg);
    return rc;
}

static bool preflight_match(struct http_req *r)
{
    return strcmp(r->method, "OPTIONS") == 0;
}

/* No authentication (and so no authorization): a preflight carries no credentials, and its
 * answer only tells what the bucket's published rules allow. */
static const struct http_route preflight_route =
    HTTP_ROUTE("s3-preflight", HTTP_ERR_S3, 0, .match = preflight_match, .no_authn = true,
               .finish = s3_preflight);

void obj_preflight_route_init(struct http_route *route, struct obj_store *st)
{
    *route = preflight_route;
    route->ctx = st;
}
