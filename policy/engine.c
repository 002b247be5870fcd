/* engine.c -- the authorizer: which policies apply to a principal, and the whole AWS
 * decision over identity, session and bucket policies.
 *
 * Compiled documents are cached by policy name for one IAM store generation, and so is the
 * list of documents each static user resolves to (its own policies and its enabled
 * groups'), so a warm authorization does no store reads at all. Every call
 * compares iam_store_generation() with the cached one (no store read while nothing changed:
 * idp/kv.h); when it moved, the cache is emptied. Entries are reference-counted, so a request keeps
 * evaluating the documents it took even while another thread empties the cache. Parsing
 * happens outside the lock: a miss reads and compiles the document, then inserts it under a
 * short write lock (or uses the entry another thread inserted meanwhile).
 *
 * Thread-safety: st is immutable after creation; both caches and gen are guarded by lock (gen
 * is also read without it, atomically, as the cheap per-call check); an entry is immutable
 * and freed by whoever drops its last reference.
 *
 * @test tests/unit/policy/test_engine.c, bench: tests/bench/bench_policy.c
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "policy/pol_int.h"

#define ENGINE_BUCKETS 256
#define ENGINE_MAX_POLICIES 256 /* distinct policies one request may be evaluated against */

/* An entry of either cache, named, reference-counted, chained in its bucket. */
struct entry {
    struct entry *next;
    atomic_int refs;
    char *name;
    void (*destroy)(struct entry *x); /* frees x once its last reference is dropped */
};

struct centry {
    struct entry e;      /* first: a struct entry * of the policy cache is a struct centry * */
    struct pol_doc *doc; /* NULL: no such policy */
    bool failed;         /* the stored policy could not be read or parsed: deny (fail closed) */
};

/* The resolved policies of one static user (its own and its enabled groups'). */
struct uentry {
    struct entry e; /* first, as in centry */
    bool ok;        /* false: no such user, or disabled */
    size_t n;
    struct centry **v; /* referenced */
};

/* A cache of entries by name: the compiled policies, the users' resolved policies. */
struct cache {
    struct entry *tab[ENGINE_BUCKETS];
};

struct pol_engine {
    struct iam_store *st;
    struct pol_plugin *plugin; /* owned; NULL: none */
    pthread_rwlock_t lock;     /* guards both caches */
    struct cache policies, users;
    _Atomic uint64_t gen;
};

static void entry_put(struct entry *x)
{
    if (x != NULL && atomic_fetch_sub(&x->refs, 1) == 1)
        x->destroy(x);
}

/* Sets up x (zeroed) with one reference, the caller's. -1 on OOM (entry_put then frees x). */
static int entry_init(struct entry *x, const char *name, void (*destroy)(struct entry *x))
{
    atomic_init(&x->refs, 1);
    x->destroy = destroy;
    x->name = strdup(name);
    return x->name != NULL ? 0 : -1;
}

static void centry_destroy(struct entry *x)
{
    struct centry *c = (struct centry *)x;
    pol_doc_free(c->doc);
    free(x->name);
    free(c);
}

static void centry_put(struct centry *c)
{
    entry_put(c != NULL ? &c->e : NULL);
}

static void uentry_destroy(struct entry *x)
{
    struct uentry *u = (struct uentry *)x;
    for (size_t i = 0; i < u->n; i++)
        centry_put(u->v[i]);
    free(u->v);
    free(x->name);
    free(u);
}

static void cache_flush_locked(struct cache *c)
{
    for (size_t i = 0; i < ENGINE_BUCKETS; i++) {
        struct entry *x = c->tab[i], *next;
        for (; x != NULL; x = next) {
            next = x->next;
            entry_put(x);
        }
        c->tab[i] = NULL;
    }
}

static void flush_locked(struct pol_engine *e)
{
    cache_flush_locked(&e->users); /* first: they reference policies */
    cache_flush_locked(&e->policies);
}

static struct entry *cache_find_locked(struct cache *c, const char *name, size_t b)
{
    for (struct entry *x = c->tab[b]; x != NULL; x = x->next)
        if (strcmp(x->name, name) == 0)
            return x;
    return NULL;
}

/* Caches mine (built for generation gen, referenced by the caller) unless the cache has moved
 * to another generation or another thread cached the same name meanwhile. Returns the entry
 * to use, referenced: mine, or the other thread's (mine then released). */
static struct entry *cache_insert(struct pol_engine *e, struct cache *c, struct entry *mine,
                                  size_t b, uint64_t gen)
{
    struct entry *x = NULL;
    pthread_rwlock_wrlock(&e->lock);
    if (atomic_load(&e->gen) == gen) {
        x = cache_find_locked(c, mine->name, b);
        if (x != NULL) {
            atomic_fetch_add(&x->refs, 1);
        } else {
            atomic_fetch_add(&mine->refs, 1); /* the cache's reference */
            mine->next = c->tab[b];
            c->tab[b] = mine;
        }
    }
    pthread_rwlock_unlock(&e->lock);
    if (x != NULL) {
        entry_put(mine);
        return x;
    }
    return mine;
}

/* Fills the new entry x of its cache for generation gen: 1 to cache it, 0 to return it
 * uncached (a failure that must not outlive its cause), -1 on OOM. */
typedef int cache_fill_fn(struct pol_engine *e, struct entry *x, uint64_t gen);

/* The entry for name in c, referenced: the cached one, else a new one of size bytes that fill
 * fills (cached as fill says). NULL only on OOM. */
static struct entry *cache_resolve(struct pol_engine *e, struct cache *c, const char *name,
                                   size_t size, void (*destroy)(struct entry *x),
                                   cache_fill_fn *fill, uint64_t gen)
{
    size_t b = pol_hash(name, strlen(name)) % ENGINE_BUCKETS;
    pthread_rwlock_rdlock(&e->lock);
    struct entry *x = cache_find_locked(c, name, b);
    if (x != NULL)
        atomic_fetch_add(&x->refs, 1);
    pthread_rwlock_unlock(&e->lock);
    if (x != NULL || (x = calloc(1, size)) == NULL)
        return x;
    int r = entry_init(x, name, destroy) == 0 ? fill(e, x, gen) : -1;
    if (r < 0) {
        entry_put(x);
        return NULL;
    }
    return r > 0 ? cache_insert(e, c, x, b, gen) : x;
}

struct pol_engine *pol_engine_new(struct iam_store *st)
{
    struct pol_engine *e = calloc(1, sizeof(*e));
    if (e == NULL || pthread_rwlock_init(&e->lock, NULL) != 0) {
        free(e);
        return NULL;
    }
    e->st = st;
    atomic_store(&e->gen, st != NULL ? iam_store_generation(st) : 0);
    return e;
}

void pol_engine_free(struct pol_engine *e)
{
    if (e == NULL)
        return;
    flush_locked(e);
    pthread_rwlock_destroy(&e->lock);
    pol_plugin_free(e->plugin);
    free(e);
}

void pol_engine_set_plugin(struct pol_engine *e, struct pol_plugin *pl)
{
    pol_plugin_free(e->plugin);
    e->plugin = pl;
}

struct pol_plugin *pol_engine_plugin(const struct pol_engine *e)
{
    return e != NULL ? e->plugin : NULL;
}

static uint64_t sync_gen(struct pol_engine *e)
{
    uint64_t g = e->st != NULL ? iam_store_generation(e->st) : 0;
    if (g != atomic_load(&e->gen)) {
        pthread_rwlock_wrlock(&e->lock);
        if (g != atomic_load(&e->gen)) {
            flush_locked(e);
            atomic_store(&e->gen, g);
        }
        pthread_rwlock_unlock(&e->lock);
    }
    return g;
}

/* The stored document of that name, else the canned one, else NULL (no such policy: it grants
 * nothing and denies nothing). Returns false, with a log line, when a stored policy exists but
 * cannot be read or parsed: its Deny statements would silently stop applying, so the caller
 * denies instead (fail closed). */
static bool load_doc(struct pol_engine *e, const char *name, struct pol_doc **out)
{
    struct pol_doc *d = NULL;
    char *json = NULL;
    int err = e->st != NULL ? iam_policy_get(e->st, name, &json) : TS_E_NO_SUCH_ENTITY;

    *out = NULL;
    if (err == TS_OK && json != NULL) {
        err = pol_doc_parse(json, strlen(json), &d, NULL, 0);
        free(json);
        if (err != TS_OK) {
            log_kv(LOG_ERROR, "policy.unusable", "policy", name, "error", "does not parse",
                   "effect", "requests it applies to are denied", NULL);
            return false;
        }
        *out = d;
        return true;
    }
    free(json);
    if (err != TS_E_NO_SUCH_ENTITY) {
        log_kv(LOG_ERROR, "policy.unusable", "policy", name, "error", ts_err_code(err), "effect",
               "requests it applies to are denied", NULL);
        return false;
    }
    const char *canned = pol_canned_json(name);
    if (canned != NULL && pol_doc_parse(canned, strlen(canned), &d, NULL, 0) != TS_OK)
        return false;
    *out = d;
    return true;
}

static int centry_fill(struct pol_engine *e, struct entry *x, uint64_t gen)
{
    struct centry *c = (struct centry *)x;
    (void)gen;
    c->failed = !load_doc(e, x->name, &c->doc);
    return c->failed ? 0 : 1; /* a failure is not cached: the next request tries again */
}

/* A referenced entry for name, loading it on a miss; NULL only on OOM. */
static struct centry *resolve(struct pol_engine *e, const char *name, uint64_t gen)
{
    return (struct centry *)cache_resolve(e, &e->policies, name, sizeof(struct centry),
                                          centry_destroy, centry_fill, gen);
}

struct plist {
    struct centry *v[ENGINE_MAX_POLICIES];
    size_t n;
    bool overflow;
};

static void plist_add(struct pol_engine *e, struct plist *pl, const char *name, uint64_t gen)
{
    if (name == NULL || name[0] == '\0')
        return;
    for (size_t i = 0; i < pl->n; i++)
        if (strcmp(pl->v[i]->e.name, name) == 0)
            return;
    if (pl->n == ENGINE_MAX_POLICIES) {
        pl->overflow = true;
        return;
    }
    struct centry *c = resolve(e, name, gen);
    if (c == NULL) {
        pl->overflow = true; /* OOM: fail closed */
    } else {
        pl->v[pl->n++] = c;
        if (c->failed)
            pl->overflow = true; /* unreadable policy: fail closed */
    }
}

/* Adds the current policies of static user name (its own and its enabled groups'). Returns
 * 0, or -1 when the user does not exist or is disabled. */
static int add_user_policies(struct pol_engine *e, struct plist *pl, const char *name, uint64_t gen)
{
    struct iam_user u;
    memset(&u, 0, sizeof(u));
    if (e->st == NULL || name == NULL || iam_user_get(e->st, name, &u) != TS_OK)
        return -1;
    if (!u.enabled) {
        iam_user_cleanup(&u);
        return -1;
    }
    for (size_t i = 0; i < u.policies.n; i++)
        plist_add(e, pl, u.policies.v[i], gen);
    for (size_t i = 0; i < u.groups.n; i++) {
        struct iam_group g;
        memset(&g, 0, sizeof(g));
        int gerr = iam_group_get(e->st, u.groups.v[i], &g);
        if (gerr == TS_E_NO_SUCH_ENTITY)
            continue;
        if (gerr != TS_OK) { /* a group that cannot be read may hold a Deny: fail closed */
            pl->overflow = true;
            continue;
        }
        if (g.enabled)
            for (size_t j = 0; j < g.policies.n; j++)
                plist_add(e, pl, g.policies.v[j], gen);
        iam_group_cleanup(&g);
    }
    iam_user_cleanup(&u);
    return 0;
}

static int uentry_fill(struct pol_engine *e, struct entry *x, uint64_t gen)
{
    struct uentry *u = (struct uentry *)x;
    struct plist *pl = calloc(1, sizeof(*pl));
    if (pl == NULL)
        return -1;
    u->ok = add_user_policies(e, pl, x->name, gen) == 0 && !pl->overflow;
    if (pl->n > 0 && (u->v = malloc(pl->n * sizeof(*u->v))) != NULL) {
        memcpy(u->v, pl->v, pl->n * sizeof(*u->v));
        u->n = pl->n;
        pl->n = 0; /* references moved */
    }
    /* A failure is not cached: a read error must not outlive its cause. */
    int r = pl->n > 0 ? -1 : u->ok ? 1 : 0;
    for (size_t i = 0; i < pl->n; i++) /* OOM */
        centry_put(pl->v[i]);
    free(pl);
    return r;
}

/* The cached resolution of static user name (referenced), computing it on a miss; NULL only
 * on OOM. */
static struct uentry *resolve_user(struct pol_engine *e, const char *name, uint64_t gen)
{
    return (struct uentry *)cache_resolve(e, &e->users, name, sizeof(struct uentry), uentry_destroy,
                                          uentry_fill, gen);
}

/* The identity policies that apply to p: its static user's (cached, *user) or its own list
 * (pl, *ents pointing at either). Returns false, with *reason, when the request is to be
 * denied (no such user, OOM, a policy that cannot be read: fail closed). */
static bool identity_entries(struct pol_engine *e, const struct pol_principal *p, struct plist *pl,
                             struct uentry **user, struct centry *const **ents, size_t *nents,
                             const char **reason)
{
    uint64_t gen = sync_gen(e);
    /* A role session has exactly its role's policies, even none: never the parent's; nor
     * does a federated identity without policies get a static user's of the same name. */
    bool fed = p->source != NULL && strcmp(p->source, "static") != 0;
    if (p->type == POL_PRINCIPAL_USER || (p->policies.n == 0 && p->role_arn == NULL && !fed)) {
        const char *name = p->type == POL_PRINCIPAL_USER
                               ? (p->username != NULL ? p->username : p->access_key)
                               : p->parent;
        if (name != NULL) {
            *user = resolve_user(e, name, gen);
            if (*user == NULL) {
                *reason = "out of memory";
                return false;
            }
        }
        if (*user != NULL && (*user)->ok) {
            *ents = (*user)->v;
            *nents = (*user)->n;
        } else if (p->type == POL_PRINCIPAL_USER) {
            *reason = "user does not exist or is disabled";
            return false;
        } else if (p->source == NULL || strcmp(p->source, "static") == 0) {
            *reason = "parent user does not exist or is disabled";
            return false;
        }
    } else {
        for (size_t i = 0; i < p->policies.n; i++)
            plist_add(e, pl, p->policies.v[i], gen);
        if (pl->overflow) {
            *reason = "too many policies, or one could not be read";
            return false;
        }
        *nents = pl->n;
    }
    return true;
}

/* Merges one session policy's decision into the union *sd: an explicit Deny wins, else an
 * Allow. */
static void session_merge(enum pol_decision d, enum pol_decision *sd)
{
    if (d == POL_EXPLICIT_DENY || (d == POL_ALLOW && *sd != POL_EXPLICIT_DENY))
        *sd = d;
}

/* The decision of temporary credentials' session policies (*sd untouched when there are
 * none): the inline policy and the managed ones (PolicyArns, by name; a name that no longer
 * names a policy grants nothing) as one union. False when one cannot be used (an inline
 * policy that does not parse, a stored one that cannot be read, OOM). A policy parsed here is
 * left in *tmp for the caller to free. */
static bool session_decision(struct pol_engine *e, const struct pol_principal *p, struct pol_ev *ev,
                             uint64_t gen, struct pol_doc **tmp, enum pol_decision *sd)
{
    const struct pol_doc *sdoc = p->session_doc;
    struct plist pl;
    bool ok = true;

    if (sdoc == NULL && p->session_policy == NULL && p->session_policies.n == 0)
        return true;
    *sd = POL_IMPLICIT_DENY;
    if (sdoc == NULL && p->session_policy != NULL) {
        const char *sp = p->session_policy;
        if (pol_doc_parse(sp, strlen(sp), tmp, NULL, 0) != TS_OK)
            return false;
        sdoc = *tmp;
    }
    if (sdoc != NULL)
        session_merge(pol_doc_eval_ev(sdoc, ev), sd);
    pl.n = 0;
    pl.overflow = false;
    for (size_t i = 0; i < p->session_policies.n; i++)
        plist_add(e, &pl, p->session_policies.v[i], gen);
    ok = !pl.overflow;
    for (size_t i = 0; i < pl.n; i++) {
        if (ok && pl.v[i]->doc != NULL)
            session_merge(pol_doc_eval_ev(pl.v[i]->doc, ev), sd);
        centry_put(pl.v[i]);
    }
    return ok;
}

enum pol_decision pol_session_decision(struct pol_engine *e, const struct pol_request *rq)
{
    const struct pol_principal *p = rq->principal;
    enum pol_decision sd = POL_ALLOW;
    struct pol_doc *tmp = NULL;
    struct pol_ev ev;

    if (p == NULL || !POL_PRINCIPAL_DERIVED(p))
        return POL_ALLOW;
    if (e == NULL && p->session_policies.n > 0)
        return POL_IMPLICIT_DENY;
    pol_ev_init(&ev, rq);
    if (!session_decision(e, p, &ev, e != NULL ? sync_gen(e) : 0, &tmp, &sd))
        sd = POL_IMPLICIT_DENY;
    pol_doc_free(tmp);
    return sd;
}

/* The resource's own decision: its policy (explicit Deny, Allow) with RestrictPublicBuckets
 * applied (an anonymous caller gets nothing from a public policy, its Deny still counts). */
static enum pol_decision resource_decision(const struct pol_resource *res, struct pol_ev *ev,
                                           bool anonymous)
{
    if (res == NULL || res->policy == NULL)
        return POL_IMPLICIT_DENY;
    enum pol_decision d = pol_doc_eval_ev(res->policy, ev);
    return d == POL_ALLOW && anonymous && res->restrict_public ? POL_IMPLICIT_DENY : d;
}

/* The ACL source, asked only when no policy allowed and none denied. */
static bool acl_allows(const struct pol_resource *res, const struct pol_request *rq)
{
    return res != NULL && res->acl != NULL && res->acl(res->acl_ctx, rq) == POL_ALLOW;
}

/* No explicit Deny: an Allow of the identity policies (id), of the resource's policy (bd) or,
 * asked only then, of the ACL source; and the session policy's (sd) in any case. */
static enum pol_decision allow_sources(enum pol_decision id, enum pol_decision bd,
                                       enum pol_decision sd, const struct pol_resource *rs,
                                       const struct pol_request *rq, const char **reason)
{
    bool by_acl = id != POL_ALLOW && bd != POL_ALLOW && acl_allows(rs, rq);
    if (id != POL_ALLOW && bd != POL_ALLOW && !by_acl) {
        *reason = "no statement allows";
        return POL_IMPLICIT_DENY;
    }
    if (sd != POL_ALLOW) {
        *reason = "session policy does not allow";
        return POL_IMPLICIT_DENY;
    }
    *reason = id == POL_ALLOW   ? "allowed by identity policy"
              : bd == POL_ALLOW ? "allowed by bucket policy"
                                : "allowed by ACL";
    return POL_ALLOW;
}

enum pol_decision pol_authorize(struct pol_engine *e, const struct pol_request *rq,
                                const struct pol_doc *bucket_policy, const char **why)
{
    struct pol_resource res = {.policy = bucket_policy};
    return pol_authorize_res(e, rq, &res, why);
}

enum pol_decision pol_authorize_res(struct pol_engine *e, const struct pol_request *rq,
                                    const struct pol_resource *rs, const char **why)
{
    const struct pol_principal *p = rq->principal;
    bool anonymous = p == NULL || p->type == POL_PRINCIPAL_ANONYMOUS;
    enum pol_decision id = POL_IMPLICIT_DENY, bd, sd = POL_ALLOW, res;
    const char *reason = "no statement allows";
    struct pol_doc *tmp_session = NULL;
    struct uentry *user = NULL;
    struct plist pl;
    struct pol_ev ev;

    pl.n = 0;
    pl.overflow = false;
    if (p != NULL && p->type == POL_PRINCIPAL_ROOT) {
        if (why != NULL)
            *why = "root is allowed everything";
        return POL_ALLOW;
    }
    pol_ev_init(&ev, rq);
    bd = resource_decision(rs, &ev, anonymous);
    if (bd == POL_EXPLICIT_DENY) {
        res = POL_EXPLICIT_DENY;
        reason = "explicit deny in bucket policy";
        goto out;
    }
    if (anonymous) {
        res = bd == POL_ALLOW || acl_allows(rs, rq) ? POL_ALLOW : POL_IMPLICIT_DENY;
        reason = bd == POL_ALLOW    ? "allowed by bucket policy"
                 : res == POL_ALLOW ? "allowed by ACL"
                                    : "no bucket policy allows anonymous";
        goto out;
    }

    if (e == NULL) {
        res = POL_IMPLICIT_DENY;
        reason = "no policy engine";
        goto out;
    }
    struct centry *const *ents = pl.v;
    size_t nents = 0;
    if (!identity_entries(e, p, &pl, &user, &ents, &nents, &reason)) {
        res = POL_IMPLICIT_DENY;
        goto out;
    }
    for (size_t i = 0; i < nents && id != POL_EXPLICIT_DENY; i++) {
        enum pol_decision d = pol_doc_eval_ev(ents[i]->doc, &ev);
        if (d != POL_IMPLICIT_DENY)
            id = d;
    }
    if (id == POL_EXPLICIT_DENY) {
        res = POL_EXPLICIT_DENY;
        reason = "explicit deny in identity policy";
        goto out;
    }
    if (POL_PRINCIPAL_DERIVED(p)) {
        if (!session_decision(e, p, &ev, sync_gen(e), &tmp_session, &sd)) {
            res = POL_IMPLICIT_DENY;
            reason = "session policy is invalid";
            goto out;
        }
        if (sd == POL_EXPLICIT_DENY) {
            res = POL_EXPLICIT_DENY;
            reason = "explicit deny in session policy";
            goto out;
        }
    }
    res = allow_sources(id, bd, sd, rs, rq, &reason);
out:
    for (size_t i = 0; i < pl.n; i++)
        centry_put(pl.v[i]);
    entry_put(user != NULL ? &user->e : NULL);
    pol_doc_free(tmp_session);
    if (why != NULL)
        *why = reason;
    return res;
}
