/* cfg.c -- the configuration table (core/cfg.def), parsed once from the environment. */
#include "core/cfg.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "core/limits.h"

extern char **environ;

static const struct cfg_var table[CFG__COUNT] = {
#define CFG(id, ...) [CFG_##id] = {__VA_ARGS__},
#include "core/cfg.def"
#undef CFG
};

#define NAME_MAX_LEN 128
#define SUFFIX_MAX_LEN 64

struct val {
    char *raw;  /* the value set, or NULL (the default applies) */
    char *from; /* the variable that held it */
    long num;
};

struct sval { /* one NAME_<suffix> */
    enum cfg_id id;
    char *suffix;
    struct val v;
};

static struct {
    struct val v[CFG__COUNT];
    long dflt_num[CFG__COUNT];
    struct sval *s;
    size_t ns;
    const char **sfx[CFG__COUNT]; /* cfg_suffixes */
    size_t nsfx[CFG__COUNT];
} G;
static atomic_bool loaded;
static pthread_mutex_t load_mu = PTHREAD_MUTEX_INITIALIZER;

const struct cfg_var *cfg_var(enum cfg_id id)
{
    return &table[id];
}

/* The i-th name of v (0: the TESSERA_ one, then the aliases) into buf; false past the end. */
static bool name_at(const struct cfg_var *v, int i, char *buf, size_t len)
{
    const char *p = v->aliases;
    if (i == 0) {
        snprintf(buf, len, "%s", v->name);
        return true;
    }
    while (p != NULL && *p != '\0') {
        size_t n = strcspn(p, " ");
        if (--i == 0) {
            snprintf(buf, len, "%.*s", (int)n, p);
            return true;
        }
        p += n;
        p += strspn(p, " ");
    }
    return false;
}

/* ---- values ---- */

static const char *const bool_on[] = {"on", "true", "1", "yes", "enable", "enabled"};
static const char *const bool_off[] = {"off", "false", "0", "no", "disable", "disabled"};

static int parse_bool(const char *s, long *out)
{
    for (size_t i = 0; i < sizeof bool_on / sizeof *bool_on; i++) {
        if (strcasecmp(s, bool_on[i]) == 0)
            return *out = 1, 0;
        if (strcasecmp(s, bool_off[i]) == 0)
            return *out = 0, 0;
    }
    return -1;
}

/* A decimal integer, then (durations) an optional s/m/h unit; in min..max. */
static int parse_num(const struct cfg_var *v, const char *s, long *out)
{
    char *end;
    long mul = 1;
    errno = 0;
    long n = strtol(s, &end, 10);
    if (end == s || errno != 0 || !isdigit((unsigned char)s[0]))
        return -1;
    if (v->type == CFG_T_DURATION && *end != '\0' && end[1] == '\0') {
        mul = *end == 's' ? 1 : *end == 'm' ? 60 : *end == 'h' ? 3600 : 0;
        end++;
    }
    if (*end != '\0' || mul == 0 || n > v->max / mul || n * mul < v->min)
        return -1;
    *out = n * mul;
    return 0;
}

static int parse_enum(const struct cfg_var *v, const char *s, long *out)
{
    size_t len = strlen(s);
    long i = 0;
    for (const char *p = v->choices; *p != '\0'; i++) {
        size_t n = strcspn(p, " ");
        if (n == len && strncasecmp(p, s, n) == 0)
            return *out = i, 0;
        p += n;
        p += strspn(p, " ");
    }
    return -1;
}

static int parse_text(const struct cfg_var *v, const char *s)
{
    size_t len = strlen(s);
    for (const char *p = s; *p != '\0'; p++)
        if (iscntrl((unsigned char)*p) ||
            (v->type == CFG_T_TOKEN && !isalnum((unsigned char)*p) && !strchr("-_.", *p)) ||
            (v->type == CFG_T_URL && *p == ' '))
            return -1;
    if (v->max > 0 && (len < (size_t)v->min || len > (size_t)v->max))
        return -1;
    if (v->type == CFG_T_URL && !(strncmp(s, "https://", 8) == 0 && len > 8) &&
        !(strncmp(s, "http://", 7) == 0 && len > 7))
        return -1;
    return 0;
}

/* Parses s as a value of v into *num. 0, or -1 when v does not accept it. */
static int parse_value(const struct cfg_var *v, const char *s, long *num)
{
    double r, b;
    *num = 0;
    switch (v->type) {
    case CFG_T_BOOL:
        return parse_bool(s, num);
    case CFG_T_INT:
    case CFG_T_DURATION:
        return parse_num(v, s, num);
    case CFG_T_ENUM:
        return parse_enum(v, s, num);
    case CFG_T_RATE:
        return ratelimit_parse(s, &r, &b);
    default:
        return parse_text(v, s);
    }
}

/* What v accepts, for messages (md false) and docs/CONFIG.md (md true). */
static void accepts(const struct cfg_var *v, bool md, char *buf, size_t len)
{
    const char *q = md ? "`" : "";
    switch (v->type) {
    case CFG_T_STR:
        if (v->max > 0)
            snprintf(buf, len, "%ld–%ld characters", v->min, v->max);
        else
            snprintf(buf, len, "text");
        break;
    case CFG_T_TOKEN:
        snprintf(buf, len, "%ld–%ld letters, digits, %s-%s %s_%s %s.%s", v->min, v->max, q, q, q, q,
                 q, q);
        break;
    case CFG_T_URL:
        snprintf(buf, len, "an %shttp://%s or %shttps://%s URL", q, q, q, q);
        break;
    case CFG_T_BOOL:
        snprintf(buf, len, "%son%s or %soff%s", q, q, q, q);
        break;
    case CFG_T_INT:
        snprintf(buf, len, "an integer from %ld to %ld", v->min, v->max);
        break;
    case CFG_T_DURATION:
        snprintf(buf, len, "%lds to %lds, as %s30%s, %s30s%s, %s5m%s or %s1h%s", v->min, v->max, q,
                 q, q, q, q, q, q, q);
        break;
    case CFG_T_ENUM: {
        size_t off = md ? 0 : (size_t)snprintf(buf, len, "one of ");
        for (const char *p = v->choices; *p != '\0' && off < len;) {
            size_t n = strcspn(p, " ");
            off += (size_t)snprintf(buf + off, len - off, "%s%s%.*s%s", p != v->choices ? ", " : "",
                                    q, (int)n, p, q);
            p += n;
            p += strspn(p, " ");
        }
        break;
    }
    case CFG_T_RATE:
        snprintf(buf, len, "%sRATE%s or %sRATE:BURST%s (per second), or %soff%s", q, q, q, q, q, q);
        break;
    }
}

/* ---- loading ---- */

static void val_free(struct val *v)
{
    free(v->raw);
    free(v->from);
    memset(v, 0, sizeof *v);
}

static void state_free(void)
{
    for (size_t i = 0; i < CFG__COUNT; i++) {
        val_free(&G.v[i]);
        free(G.sfx[i]);
    }
    for (size_t i = 0; i < G.ns; i++) {
        free(G.s[i].suffix);
        val_free(&G.s[i].v);
    }
    free(G.s);
    memset(&G, 0, sizeof G);
}

/* Stores the value of variable `name` for row id after checking it. */
static int take(enum cfg_id id, const char *name, const char *raw, struct val *out, char *err,
                size_t errlen)
{
    const struct cfg_var *v = &table[id];
    if (parse_value(v, raw, &out->num) != 0) {
        char acc[256];
        accepts(v, false, acc, sizeof acc);
        if (v->flags & CFG_F_SECRET)
            snprintf(err, errlen, "%s: expected %s", name, acc);
        else
            snprintf(err, errlen, "%s=%s: expected %s", name, raw, acc);
        return TS_E_INVALID_ARGUMENT;
    }
    out->raw = strdup(raw);
    out->from = strdup(name);
    return out->raw != NULL && out->from != NULL ? TS_OK : TS_E_INTERNAL;
}

static int load_plain(enum cfg_id id, char *err, size_t errlen)
{
    char name[NAME_MAX_LEN];
    for (int i = 0; name_at(&table[id], i, name, sizeof name); i++) {
        const char *raw = getenv(name);
        if (raw != NULL && *raw != '\0')
            return take(id, name, raw, &G.v[id], err, errlen);
    }
    return TS_OK;
}

/* Whether key (the environment name, keylen bytes) is a table name itself, or the suffixed
 * form of a row whose name is longer than baselen (that row owns it). */
static bool owned_elsewhere(const char *key, size_t keylen, size_t baselen)
{
    char name[NAME_MAX_LEN];
    for (size_t id = 0; id < CFG__COUNT; id++)
        for (int i = 0; name_at(&table[id], i, name, sizeof name); i++) {
            size_t n = strlen(name);
            if (n == keylen && strncmp(key, name, n) == 0)
                return true;
            if ((table[id].flags & CFG_F_SUFFIX) && n > baselen && n < keylen &&
                strncmp(key, name, n) == 0 && key[n] == '_')
                return true;
        }
    return false;
}

static struct sval *sval_find(enum cfg_id id, const char *suffix)
{
    for (size_t i = 0; i < G.ns; i++)
        if (G.s[i].id == id && strcmp(G.s[i].suffix, suffix) == 0)
            return &G.s[i];
    return NULL;
}

/* One environment entry e that may be NAME_<suffix> of row id under its name `base`. */
static int load_suffixed_entry(enum cfg_id id, const char *base, const char *e, char *err,
                               size_t errlen)
{
    size_t blen = strlen(base);
    const char *eq = strchr(e, '=');
    if (eq == NULL || eq[1] == '\0' || strncmp(e, base, blen) != 0 || e[blen] != '_' ||
        e + blen + 1 >= eq || owned_elsewhere(e, (size_t)(eq - e), blen))
        return TS_OK;
    char key[NAME_MAX_LEN + SUFFIX_MAX_LEN + 2], suffix[SUFFIX_MAX_LEN + 1];
    size_t slen = (size_t)(eq - (e + blen + 1));
    snprintf(key, sizeof key, "%.*s", (int)(eq - e), e);
    if (slen > SUFFIX_MAX_LEN || strspn(e + blen + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
                                                      "qrstuvwxyz0123456789_-") < slen) {
        snprintf(err, errlen,
                 "%s: the provider name after %s_ must be 1-%d letters, digits, _ or -", key, base,
                 SUFFIX_MAX_LEN);
        return TS_E_INVALID_ARGUMENT;
    }
    snprintf(suffix, sizeof suffix, "%.*s", (int)slen, e + blen + 1);
    if (sval_find(id, suffix) != NULL) /* a name earlier in precedence order won */
        return TS_OK;
    struct sval *ns = realloc(G.s, (G.ns + 1) * sizeof *ns);
    if (ns == NULL)
        return TS_E_INTERNAL;
    G.s = ns;
    memset(&G.s[G.ns], 0, sizeof *G.s);
    G.s[G.ns].id = id;
    if ((G.s[G.ns].suffix = strdup(suffix)) == NULL)
        return TS_E_INTERNAL;
    G.ns++;
    return take(id, key, eq + 1, &G.s[G.ns - 1].v, err, errlen);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every NAME_<suffix> of a CFG_F_SUFFIX row, then the sorted list for cfg_suffixes. */
static int load_suffixed(enum cfg_id id, char *err, size_t errlen)
{
    char name[NAME_MAX_LEN];
    int rc;
    for (int i = 0; name_at(&table[id], i, name, sizeof name); i++)
        for (char **e = environ; e != NULL && *e != NULL; e++)
            if ((rc = load_suffixed_entry(id, name, *e, err, errlen)) != TS_OK)
                return rc;
    size_t n = G.v[id].raw != NULL ? 1 : 0;
    for (size_t i = 0; i < G.ns; i++)
        n += G.s[i].id == id;
    if ((G.sfx[id] = calloc(n + 1, sizeof *G.sfx[id])) == NULL)
        return TS_E_INTERNAL;
    if (G.v[id].raw != NULL)
        G.sfx[id][G.nsfx[id]++] = "";
    for (size_t i = 0; i < G.ns; i++)
        if (G.s[i].id == id)
            G.sfx[id][G.nsfx[id]++] = G.s[i].suffix;
    qsort(G.sfx[id], G.nsfx[id], sizeof *G.sfx[id], cmp_str);
    return TS_OK;
}

int cfg_load(char *err, size_t errlen)
{
    int rc = TS_OK;
    if (errlen > 0)
        err[0] = '\0';
    state_free();
    for (size_t id = 0; id < CFG__COUNT && rc == TS_OK; id++) {
        const struct cfg_var *v = &table[id];
        if (v->flags & CFG_F_CLIENT)
            continue;
        if (v->dflt != NULL && parse_value(v, v->dflt, &G.dflt_num[id]) != 0) {
            snprintf(err, errlen, "%s: the built-in default %s is invalid", v->name, v->dflt);
            rc = TS_E_INTERNAL;
            break;
        }
        rc = load_plain(id, err, errlen);
        if (rc == TS_OK && (v->flags & CFG_F_SUFFIX))
            rc = load_suffixed(id, err, errlen);
    }
    if (rc == TS_E_INTERNAL && errlen > 0 && err[0] == '\0')
        snprintf(err, errlen, "configuration: out of memory");
    atomic_store(&loaded, rc == TS_OK);
    return rc;
}

static void ensure_loaded(void)
{
    if (atomic_load(&loaded))
        return;
    pthread_mutex_lock(&load_mu);
    if (!atomic_load(&loaded)) {
        char err[512] = "";
        if (cfg_load(err, sizeof err) != TS_OK) {
            fprintf(stderr, "tessera: %s\n", err);
            exit(2);
        }
    }
    pthread_mutex_unlock(&load_mu);
}

/* ---- readers ---- */

static const struct val *val_of(enum cfg_id id, const char *suffix)
{
    ensure_loaded();
    if (suffix == NULL || *suffix == '\0')
        return &G.v[id];
    const struct sval *s = sval_find(id, suffix);
    return s != NULL ? &s->v : NULL;
}

const char *cfg_str_sfx(enum cfg_id id, const char *suffix)
{
    const struct val *v = val_of(id, suffix);
    return v != NULL && v->raw != NULL ? v->raw : table[id].dflt;
}

static long num_sfx(enum cfg_id id, const char *suffix)
{
    const struct val *v = val_of(id, suffix);
    return v != NULL && v->raw != NULL ? v->num : G.dflt_num[id];
}

bool cfg_on_sfx(enum cfg_id id, const char *suffix)
{
    return num_sfx(id, suffix) != 0;
}

const char *cfg_str(enum cfg_id id)
{
    return cfg_str_sfx(id, NULL);
}

long cfg_num(enum cfg_id id)
{
    return num_sfx(id, NULL);
}

bool cfg_on(enum cfg_id id)
{
    return num_sfx(id, NULL) != 0;
}

const char *cfg_source(enum cfg_id id)
{
    const struct val *v = val_of(id, NULL);
    return v->from != NULL ? v->from : table[id].name;
}

size_t cfg_suffixes(enum cfg_id id, const char *const **out)
{
    ensure_loaded();
    *out = G.sfx[id];
    return G.nsfx[id];
}

/* ---- the documentation ---- */

static const char *const section_title[CFG_S_COUNT] = {
    [CFG_S_SERVER] = "Server",
    [CFG_S_CLIENT] = "Admin and login clients",
    [CFG_S_OPENID] = "OpenID Connect",
    [CFG_S_LDAP] = "LDAP",
};

static void list_row(FILE *f, const struct cfg_var *v)
{
    const char *sfx = (v->flags & CFG_F_SUFFIX) ? "[_NAME]" : "";
    char name[NAME_MAX_LEN], acc[256];
    fprintf(f, "| `%s%s` | ", v->name, sfx);
    for (int i = 1; name_at(v, i, name, sizeof name); i++)
        fprintf(f, "%s`%s%s`", i > 1 ? ", " : "", name, sfx);
    if (v->aliases == NULL)
        fputs("—", f);
    accepts(v, true, acc, sizeof acc);
    if (v->dflt_doc != NULL)
        fprintf(f, " | %s | %s | %s |\n", acc, v->dflt_doc, v->doc);
    else if (v->dflt != NULL)
        fprintf(f, " | %s | `%s` | %s |\n", acc, v->dflt, v->doc);
    else
        fprintf(f, " | %s | — | %s |\n", acc, v->doc);
}

void cfg_list(FILE *f)
{
    for (int s = 0; s < CFG_S_COUNT; s++) {
        fprintf(f,
                "%s### %s\n\n| variable | MinIO alias | accepts | default | meaning |\n"
                "|---|---|---|---|---|\n",
                s ? "\n" : "", section_title[s]);
        for (size_t id = 0; id < CFG__COUNT; id++)
            if (table[id].sect == (enum cfg_section)s)
                list_row(f, &table[id]);
    }
}
