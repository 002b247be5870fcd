/* pol_int.h -- the compiled form of a policy document, shared by the files of policy/ only.
 *
 * A document is compiled once by doc.c into statements whose Action, Resource and Condition
 * values are struct pol_pat patterns. Patterns keep the cheap cases apart (everything, an
 * exact string, a prefix followed by one '*') so that most comparisons are one memcmp; the
 * rest are globs in an internal escaped form ("\x" is a literal x) so that the iterative
 * matcher in vars.c never confuses a substituted value or a ${*} escape with a wildcard.
 * Patterns holding policy variables are kept as segments and expanded per request into a
 * stack buffer (vars.c).
 *
 * Everything here is immutable after compilation; evaluation allocates only for a condition
 * key with more than POL_KEY_VALUES_STACK values.
 */
#ifndef TS_POL_INT_H
#define TS_POL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "policy/pol.h"

#define POL_EXPAND_MAX 4096 /* longest pattern after variable substitution */
/* Values of one condition key kept on the stack while a condition is evaluated; keys with
 * more values (200 groups) are gathered into a heap array: every value is always checked. */
#define POL_KEY_VALUES_STACK 64

enum pol_pat_kind {
    PAT_ALL,    /* "*": matches everything */
    PAT_EXACT,  /* s is the literal text */
    PAT_PREFIX, /* s is a literal prefix (the pattern was "s*") */
    PAT_GLOB,   /* s is an escaped glob */
    PAT_VARS,   /* segs: escaped glob pieces and variable names */
};

struct pol_seg {
    char *s; /* escaped glob text, or the key of a variable (pol_key_canon form) */
    size_t len;
    bool var;
    int key_id; /* enum pol_key_id of a variable */
};

struct pol_pat {
    enum pol_pat_kind kind;
    bool lower; /* variable values are lower-cased when expanded (case-insensitive match) */
    char *s;
    size_t len;
    uint32_t hash; /* PAT_EXACT: pol_hash(s) */
    char *pre;     /* PAT_GLOB, PAT_VARS: the literal text every match starts with */
    size_t prelen;
    struct pol_seg *segs;
    size_t nsegs;
};

/* Well-known condition keys, resolved at compile time. */
enum pol_key_id {
    KEY_OTHER,
    KEY_USERNAME,
    KEY_USERID,
    KEY_PRINCIPALTYPE,
    KEY_PRINCIPALARN,
    KEY_SOURCEIP,
    KEY_SECURETRANSPORT,
    KEY_CURRENTTIME,
    KEY_EPOCHTIME,
    KEY_USERAGENT,
};

struct pol_key {
    char *name; /* pol_key_canon form */
    enum pol_key_id id;
};

enum pol_cond_family {
    CF_STR,
    CF_STR_IC,
    CF_LIKE,
    CF_NUM,
    CF_DATE,
    CF_BOOL,
    CF_IP,
    CF_NULL,
    CF_ARN,
    CF_BIN,
};

enum pol_cmp { CMP_EQ, CMP_LT, CMP_LE, CMP_GT, CMP_GE };
enum pol_qual { QUAL_NONE, QUAL_ANY, QUAL_ALL };

struct pol_cidr {
    uint8_t fam; /* 4 or 6 */
    uint8_t bits;
    uint8_t addr[16];
};

struct pol_cval {
    struct pol_pat pat; /* CF_STR, CF_STR_IC, CF_LIKE, CF_ARN, CF_BIN, CF_BOOL */
    double num;         /* CF_NUM */
    time_t t;           /* CF_DATE */
    bool b;             /* CF_BOOL, CF_NULL */
    struct pol_cidr cidr;
};

/* One "Operator": {"key": values} pair; a statement's conditions are ANDed. */
struct pol_cond {
    enum pol_cond_family fam;
    enum pol_cmp cmp;
    enum pol_qual qual;
    bool negate;
    bool if_exists;
    struct pol_key key;
    struct pol_cval *vals; /* ORed */
    size_t nvals;
};

struct pol_prin {
    bool any;   /* "*" or {"AWS": "*"} */
    char **aws; /* user names or ARNs */
    size_t naws;
    char **fed; /* Federated / Service / CanonicalUser entries */
    size_t nfed;
};

struct pol_stmt {
    uint64_t amask;     /* exact_actions: bit (hash % 64) of every action, a quick reject */
    bool exact_actions; /* Action (not NotAction) holding only exact names */
    bool deny;
    bool not_action;
    bool not_resource;
    bool no_resource; /* no Resource element (admin/kms/sts-only statements, trust policies) */
    bool has_principal;
    bool not_principal;
    struct pol_pat *actions;
    size_t nactions;
    struct pol_pat *resources;
    size_t nresources;
    struct pol_prin prin;
    struct pol_cond *conds;
    size_t nconds;
};

struct pol_doc {
    struct pol_stmt *stmts;
    size_t nstmts;
    bool has_principal;
};

/* Per-request evaluation state: the lower-cased action and lazily formatted keys. */
struct pol_ev {
    const struct pol_request *rq;
    char action[128];
    size_t action_len;
    uint32_t action_hash;
    bool action_ok; /* false when the action is too long: nothing matches */
    size_t resource_len;
    char now_iso[32];
    char now_epoch[24];
};

/* vars.c */
uint32_t pol_hash(const char *s, size_t n);
/* Compiles src. wild: '*' and '?' are wildcards; vars: ${...} are variables; lower: the
 * pattern is matched against lower-cased text. Returns 0, or -1 on OOM. */
int pol_pat_compile(struct pol_pat *p, const char *src, bool wild, bool vars, bool lower);
void pol_pat_cleanup(struct pol_pat *p);
/* Matches text against p, substituting variables from ev. Never allocates. */
bool pol_pat_match(const struct pol_pat *p, const char *t, size_t tlen, struct pol_ev *ev);
/* The iterative glob matcher over the escaped form. */
bool pol_glob(const char *p, size_t plen, const char *t, size_t tlen);
enum pol_key_id pol_key_resolve(const char *lower_name);
/* Puts a condition-key name (or policy-variable name) into its canonical form, in place: keys
 * of the aws:, s3:, sts:, ldap:, iam: and kms: namespaces are matched case-insensitively (as
 * AWS does) and lower-cased; for jwt:<claim> only "jwt:" is, the claim name is case-sensitive
 * (RFC 7519); any other key (a trust policy's "<issuer>:<claim>") is matched exactly. */
void pol_key_canon(char *name);
/* Up to max values of key name (pol_key_canon form) into vals (borrowed from the
 * request/principal or ev), compared by pol_key_canon's rules. */
size_t pol_key_values(struct pol_ev *ev, const char *name, enum pol_key_id id, const char **vals,
                      size_t max);
void pol_ev_init(struct pol_ev *ev, const struct pol_request *rq);

/* cond.c */
/* Compiles {"Operator": {"key": value(s)}, ...}. Returns 0, or -1 with err filled. */
int pol_conds_compile(struct pol_stmt *st, json_t *obj, bool vars, char *err, size_t errlen);
void pol_cond_cleanup(struct pol_cond *c);
/* 1 when the condition holds, 0 when not, -1 when it cannot be evaluated (out of memory for
 * a key with more than POL_KEY_VALUES_STACK values): the caller fails closed. */
int pol_cond_eval(const struct pol_cond *c, struct pol_ev *ev);
int pol_parse_cidr(const char *s, struct pol_cidr *out);

/* eval.c */
enum pol_decision pol_doc_eval_ev(const struct pol_doc *d, struct pol_ev *ev);

#endif
