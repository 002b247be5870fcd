/* plugin.c -- the authorization plugin (OPA-compatible, MinIO's "access management plugin"):
 * one more decision source of the authorizer (policy/authz.c). A question is POSTed as
 * MinIO's input document {"input": {account, groups, action, bucket, object, conditions,
 * owner, claims}} and allowed only on a 200 answer {"result": true} or
 * {"result": {"allow": true}}; anything else (another value or shape, malformed JSON, another
 * status, a timeout, no connection) denies, and the reason is logged (never the token).
 *
 * Connections are reused: the easy handles (each with its live connection) are kept in a
 * pool, taken and given back per question, so a warm question costs one HTTP round trip.
 *
 * Thread-safety: the plugin is immutable after pol_plugin_new but for the pool, guarded by
 * lock; a handle is used by one thread at a time.
 *
 * @test tests/integration/test_opa.py
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "core/curlx.h"
#include "core/err.h"
#include "core/log.h"
#include "policy/pol.h"

#define PLUGIN_POOL_MAX 64            /* idle handles kept; more concurrent ones are not kept */
#define PLUGIN_ANSWER_MAX (64 * 1024) /* bytes of an answer */

struct pol_plugin {
    struct iam_store *st; /* groups of static users */
    char *url, *ca_file;
    struct curl_slist *hdrs; /* Content-Type, Authorization (wiped on free) */
    struct curlx_req rq;     /* the settings every handle gets (points into the above) */
    pthread_mutex_t lock;
    CURL *idle[PLUGIN_POOL_MAX];
    size_t nidle;
};

static int add_header(struct pol_plugin *pl, const char *line)
{
    struct curl_slist *n = curl_slist_append(pl->hdrs, line);
    if (n == NULL)
        return -1;
    pl->hdrs = n;
    return 0;
}

/* MinIO sends its auth_token as the whole Authorization value ("Bearer TOKEN"); a bare token
 * gets the Bearer scheme. */
static int auth_header(struct pol_plugin *pl, const char *token)
{
    size_t n = strlen(token) + 40;
    char *line = malloc(n);
    int rc;
    if (line == NULL)
        return -1;
    snprintf(line, n, "Authorization: %s%s", strchr(token, ' ') != NULL ? "" : "Bearer ", token);
    rc = add_header(pl, line);
    OPENSSL_cleanse(line, n);
    free(line);
    return rc;
}

int pol_plugin_new(const struct pol_plugin_config *c, struct iam_store *st, struct pol_plugin **out)
{
    struct pol_plugin *pl = calloc(1, sizeof *pl);
    *out = NULL;
    if (pl == NULL || c->url == NULL || curlx_global_init() != 0) {
        free(pl);
        return TS_E_INTERNAL;
    }
    pthread_mutex_init(&pl->lock, NULL);
    pl->st = st;
    pl->url = strdup(c->url);
    pl->ca_file = c->ca_file != NULL ? strdup(c->ca_file) : NULL;
    if (pl->url == NULL || (c->ca_file != NULL && pl->ca_file == NULL) ||
        add_header(pl, "Content-Type: application/json") != 0 || add_header(pl, "Expect:") != 0 ||
        (c->auth_token != NULL && auth_header(pl, c->auth_token) != 0)) {
        pol_plugin_free(pl);
        return TS_E_INTERNAL;
    }
    long ms = c->timeout_ms > 0 ? c->timeout_ms : 2000;
    pl->rq = (struct curlx_req){.url = pl->url,
                                .connect_timeout_ms = ms,
                                .timeout_ms = ms,
                                .ca_file = pl->ca_file,
                                .user_agent = "tessera-authz"};
    *out = pl;
    return TS_OK;
}

void pol_plugin_free(struct pol_plugin *pl)
{
    if (pl == NULL)
        return;
    for (size_t i = 0; i < pl->nidle; i++)
        curl_easy_cleanup(pl->idle[i]);
    for (struct curl_slist *s = pl->hdrs; s != NULL; s = s->next)
        OPENSSL_cleanse(s->data, strlen(s->data)); /* the bearer token */
    curl_slist_free_all(pl->hdrs);
    pthread_mutex_destroy(&pl->lock);
    free(pl->url);
    free(pl->ca_file);
    free(pl);
}

/* An idle handle (its connection kept alive), or a new one set up; NULL on OOM. */
static CURL *handle_take(struct pol_plugin *pl)
{
    CURL *h = NULL;
    pthread_mutex_lock(&pl->lock);
    if (pl->nidle > 0)
        h = pl->idle[--pl->nidle];
    pthread_mutex_unlock(&pl->lock);
    if (h != NULL || (h = curl_easy_init()) == NULL)
        return h;
    curlx_easy_setup(h, &pl->rq);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, pl->hdrs);
    return h;
}

static void handle_give(struct pol_plugin *pl, CURL *h)
{
    pthread_mutex_lock(&pl->lock);
    if (pl->nidle < PLUGIN_POOL_MAX) {
        pl->idle[pl->nidle++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&pl->lock);
    curl_easy_cleanup(h); /* NULL is a no-op */
}

/* ---- the input document ---- */

/* Appends value to the array conds[key] (created). */
static void cond_add(json_t *conds, const char *key, const char *value)
{
    json_t *a = json_object_get(conds, key);
    if (a == NULL) {
        a = json_array();
        if (json_object_set_new(conds, key, a) != 0)
            return;
    }
    json_array_append_new(a, json_string(value != NULL ? value : ""));
}

/* Headers that carry secrets are not sent (MinIO sends every header). */
static int cond_header(void *ctx, const char *name, const char *value)
{
    if (strcasecmp(name, "Authorization") != 0 && strcasecmp(name, "X-Amz-Security-Token") != 0 &&
        strcasecmp(name, "Cookie") != 0)
        cond_add(ctx, name, value);
    return 0;
}

/* The name without its namespace ("s3:prefix" -> "prefix", "aws:Referer" -> "Referer"). */
static const char *bare(const char *key)
{
    const char *c = strchr(key, ':');
    return c != NULL ? c + 1 : key;
}

/* MinIO's names for the parent user: the access key's parent (sessions) or the access key. */
static const char *user_name(const struct pol_principal *p)
{
    if (POL_PRINCIPAL_DERIVED(p) && p->parent != NULL)
        return p->parent;
    return p->username != NULL ? p->username : p->access_key;
}

static json_t *conditions(struct http_req *r, const struct pol_request *rq)
{
    const struct pol_principal *p = rq->principal;
    json_t *c = json_object();
    char now[32], epoch[24];
    time_t t = rq->now ? rq->now : time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(epoch, sizeof epoch, "%lld", (long long)t);
    if (c == NULL)
        return NULL;
    if (r != NULL)
        http_req_header_foreach(r, cond_header, c);
    cond_add(c, "CurrentTime", now);
    cond_add(c, "EpochTime", epoch);
    cond_add(c, "SecureTransport", rq->secure_transport ? "true" : "false");
    cond_add(c, "SourceIp", rq->source_ip);
    cond_add(c, "UserAgent", rq->user_agent);
    cond_add(c, "principaltype", p->type == POL_PRINCIPAL_TEMP ? "AssumedRole" : "User");
    cond_add(c, "userid", user_name(p));
    cond_add(c, "username", user_name(p));
    bool referer = false;
    for (size_t i = 0; i < rq->nkeys; i++) {
        referer |= strcasecmp(rq->keys[i].key, "aws:Referer") == 0;
        cond_add(c, bare(rq->keys[i].key), rq->keys[i].value);
    }
    if (!referer)
        cond_add(c, "Referer", "");
    return c;
}

/* MinIO's claim names for the LDAP ones; jwt:X is X. */
static const char *claim_name(const char *key)
{
    if (strcmp(key, "ldap:dn") == 0)
        return "ldapUser";
    if (strcmp(key, "ldap:username") == 0)
        return "ldapUsername";
    return strncmp(key, "jwt:", 4) == 0 ? key + 4 : key;
}

/* The session's claims (MinIO: the credential's claims; {} for a user's own keys). A claim
 * given several times becomes an array. */
static json_t *claims(const struct pol_principal *p)
{
    json_t *o = json_object();
    if (o == NULL || !POL_PRINCIPAL_DERIVED(p))
        return o;
    json_object_set_new(o, "accessKey", json_string(p->access_key ? p->access_key : ""));
    json_object_set_new(o, "parent", json_string(p->parent ? p->parent : ""));
    json_object_set_new(o, "exp", json_integer((json_int_t)p->expires));
    if (p->source != NULL)
        json_object_set_new(o, "source", json_string(p->source));
    if (p->role_arn != NULL)
        json_object_set_new(o, "roleArn", json_string(p->role_arn));
    for (size_t i = 0; i < p->nclaims; i++) {
        const char *k = claim_name(p->claims[i].key);
        json_t *v = json_string(p->claims[i].value), *old = json_object_get(o, k);
        if (old == NULL) {
            json_object_set_new(o, k, v);
        } else if (json_is_array(old)) {
            json_array_append_new(old, v);
        } else {
            json_t *a = json_array();
            json_array_append(a, old);
            json_array_append_new(a, v);
            json_object_set_new(o, k, a);
        }
    }
    return o;
}

/* The groups: a static user's current groups (its own keys or a session of it), else the
 * session's group claims (jwt:groups, ldap:groups); null when none, as MinIO. */
static json_t *groups(struct pol_plugin *pl, const struct pol_principal *p)
{
    json_t *a = json_array();
    bool is_static =
        p->type == POL_PRINCIPAL_USER || (POL_PRINCIPAL_DERIVED(p) && p->role_arn == NULL &&
                                          p->source != NULL && strcmp(p->source, "static") == 0);
    if (a == NULL)
        return NULL;
    if (is_static && pl->st != NULL) {
        struct iam_user u;
        memset(&u, 0, sizeof u);
        if (iam_user_get(pl->st, user_name(p), &u) == TS_OK)
            for (size_t i = 0; i < u.groups.n; i++)
                json_array_append_new(a, json_string(u.groups.v[i]));
        iam_user_cleanup(&u);
    } else {
        for (size_t i = 0; i < p->nclaims; i++)
            if (strcmp(p->claims[i].key, "jwt:groups") == 0 ||
                strcmp(p->claims[i].key, "ldap:groups") == 0)
                json_array_append_new(a, json_string(p->claims[i].value));
    }
    if (json_array_size(a) > 0)
        return a;
    json_decref(a);
    return json_null();
}

/* bucket and object of an S3 resource ARN; "" for others (admin, STS) and for "*". */
static void split_resource(const char *res, char *bucket, size_t blen, const char **object)
{
    static const char s3[] = "arn:aws:s3:::";
    *object = "";
    bucket[0] = '\0';
    if (res == NULL || strncmp(res, s3, sizeof s3 - 1) != 0 ||
        strcmp(res + sizeof s3 - 1, "*") == 0)
        return;
    res += sizeof s3 - 1;
    const char *slash = strchr(res, '/');
    size_t n = slash != NULL ? (size_t)(slash - res) : strlen(res);
    snprintf(bucket, blen, "%.*s", (int)n, res);
    if (slash != NULL)
        *object = slash + 1;
}

char *pol_plugin_input(struct pol_plugin *pl, struct http_req *r, const struct pol_request *rq)
{
    const struct pol_principal *p = rq->principal;
    char bucket[1100];
    const char *object;
    split_resource(rq->resource, bucket, sizeof bucket, &object);
    json_t *in = json_pack(
        "{s:s, s:o, s:s, s:s, s:s, s:o, s:b, s:o}", "account", p->access_key ? p->access_key : "",
        "groups", groups(pl, p), "action", rq->action ? rq->action : "", "bucket", bucket, "object",
        object, "conditions", conditions(r, rq), "owner",
        p->type == POL_PRINCIPAL_TEMP && p->source != NULL && strcmp(p->source, "root") == 0,
        "claims", claims(p));
    json_t *doc = in != NULL ? json_pack("{s:o}", "input", in) : NULL;
    char *text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    return text;
}

/* ---- the question ---- */

/* The decision in a 200 answer: true only for {"result": true} or {"result": {"allow": true}}. */
static bool answer_allows(const char *body, size_t len, const char **why)
{
    json_error_t jerr;
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *res = json_is_object(doc) ? json_object_get(doc, "result") : NULL;
    bool allow = false;
    if (doc == NULL)
        *why = "the authorization plugin's answer is not JSON";
    else if (json_is_boolean(res) ||
             (json_is_object(res) && json_is_boolean(json_object_get(res, "allow")))) {
        allow = json_is_true(json_is_object(res) ? json_object_get(res, "allow") : res);
        *why = allow ? "allowed by the authorization plugin" : "denied by the authorization plugin";
    } else
        *why = "the authorization plugin's answer has no boolean result";
    json_decref(doc);
    return allow;
}

enum pol_decision pol_plugin_ask(struct pol_plugin *pl, struct http_req *r,
                                 const struct pol_request *rq, const char **why)
{
    struct curlx_resp rs;
    char *input = pol_plugin_input(pl, r, rq);
    CURL *h = input != NULL ? handle_take(pl) : NULL;
    bool allow = false;

    *why = "the authorization plugin could not be asked";
    if (h == NULL) {
        free(input);
        log_event(LOG_ERROR, "authz.plugin", "out of memory: denied");
        return POL_IMPLICIT_DENY;
    }
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, input);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(input));
    int rc = curlx_easy_perform(h, PLUGIN_ANSWER_MAX, &rs);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
    if (rc != 0) {
        *why = rs.cc == CURLE_OPERATION_TIMEDOUT ? "the authorization plugin did not answer in time"
                                                 : "the authorization plugin is unreachable";
        log_event(LOG_ERROR, "authz.plugin", "%s (%s): %s denied", *why,
                  rs.too_big ? "answer too large" : curl_easy_strerror(rs.cc), rq->action);
    } else if (rs.status != 200) {
        *why = "the authorization plugin answered an HTTP error";
        log_event(LOG_ERROR, "authz.plugin",
                  "the authorization plugin answered HTTP %ld: %s denied", rs.status, rq->action);
    } else {
        allow = answer_allows(buf_str(&rs.body), buf_len(&rs.body), why);
        if (!allow && strcmp(*why, "denied by the authorization plugin") != 0)
            log_event(LOG_ERROR, "authz.plugin", "%s: %s denied", *why, rq->action);
    }
    curlx_resp_free(&rs);
    handle_give(pl, h);
    free(input);
    return allow ? POL_ALLOW : POL_IMPLICIT_DENY;
}
