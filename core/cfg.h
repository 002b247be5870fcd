/* cfg.h -- the configuration: one table of environment variables (core/cfg.def: name, MinIO
 * alias(es), type, range or choices, default, doc), parsed once at start by cfg_load. Modules
 * read typed values with cfg_str / cfg_num / cfg_on, never getenv. A malformed value is
 * refused by cfg_load with a message naming the variable and what it accepts.
 *
 * Rows flagged CFG_F_SUFFIX also exist per provider as NAME_<SUFFIX> (MinIO's naming for a
 * second, third... OpenID provider): cfg_load parses those too, cfg_*_sfx read them.
 * Rows flagged CFG_F_CLIENT are read by the command-line clients, not parsed by cfg_load.
 *
 * Thread-safety: cfg_load is called once, single-threaded, before any thread starts; the
 * readers are then safe from any thread. (Without cfg_load, the first reader loads the table,
 * under a lock, and exits the process on a malformed value.) */
#ifndef TS_CFG_H
#define TS_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum cfg_type {
    CFG_T_STR,      /* text, min..max characters when max > 0 */
    CFG_T_TOKEN,    /* letters, digits, '-', '_', '.', min..max characters */
    CFG_T_URL,      /* http:// or https:// URL */
    CFG_T_BOOL,     /* on/off, true/false, yes/no, 1/0, enable(d)/disable(d) */
    CFG_T_INT,      /* decimal integer in min..max */
    CFG_T_DURATION, /* seconds in min..max: 30, 30s, 5m, 1h */
    CFG_T_ENUM,     /* one of choices (space-separated); cfg_num gives the index */
    CFG_T_RATE,     /* RATE[:BURST] per second, or off (core/limits.h) */
};

enum cfg_section { CFG_S_SERVER, CFG_S_CLIENT, CFG_S_OPENID, CFG_S_LDAP, CFG_S_COUNT };

enum {
    CFG_F_SECRET = 1, /* the value is never echoed in a message */
    CFG_F_SUFFIX = 2, /* per provider: NAME_<SUFFIX> too */
    CFG_F_CLIENT = 4, /* read by the clients; not parsed at server start */
};

struct cfg_var {
    enum cfg_section sect;
    const char *name;    /* TESSERA_... */
    const char *aliases; /* space-separated full names, in precedence order; NULL for none */
    enum cfg_type type;
    long min, max;
    const char *choices;  /* CFG_T_ENUM */
    const char *dflt;     /* the default value (parsed like a set value), NULL for none */
    const char *dflt_doc; /* the default as documented, when not dflt itself */
    int flags;
    const char *doc;
};

enum cfg_id {
#define CFG(id, ...) CFG_##id,
#include "core/cfg.def"
#undef CFG
    CFG__COUNT
};

/* The table row of id. */
const struct cfg_var *cfg_var(enum cfg_id id);

/* Parses every (non-client) variable of the table from the environment, replacing what an
 * earlier call parsed. TS_OK, or TS_E_INVALID_ARGUMENT with "NAME=value: expected ..." in err. */
int cfg_load(char *err, size_t errlen);

/* The value (or default; NULL when neither). Borrowed until the next cfg_load. */
const char *cfg_str(enum cfg_id id);
/* INT and DURATION: the number (seconds); BOOL: 0/1; ENUM: the index in choices. */
long cfg_num(enum cfg_id id);
bool cfg_on(enum cfg_id id);
/* The variable that was set (name or alias), else the table name: for messages. */
const char *cfg_source(enum cfg_id id);

/* Per-provider (CFG_F_SUFFIX) rows: the value of NAME_<suffix>, or NAME when suffix is NULL or
 * "". An unset suffixed variable gives the default, not the unsuffixed value. */
const char *cfg_str_sfx(enum cfg_id id, const char *suffix);
bool cfg_on_sfx(enum cfg_id id, const char *suffix);
/* The suffixes for which id is set, sorted, "" first when the unsuffixed one is. Borrowed. */
size_t cfg_suffixes(enum cfg_id id, const char *const **out);

/* Writes the table as docs/CONFIG.md shows it: per section, a Markdown table. */
void cfg_list(FILE *f);

#endif
