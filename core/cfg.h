/* cfg.h -- configuration from the environment. Every setting has a TESSERA_ name and a MINIO_
 * alias (MinIO's guides work as written); the TESSERA_ one wins. docs/CONFIG.md lists them. */
#ifndef TS_CFG_H
#define TS_CFG_H

#include <stdbool.h>

/* The value of TESSERA_<name>, else MINIO_<name>, else NULL. Borrowed from the environment. */
const char *cfg_get(const char *name);
/* Same with a default. */
const char *cfg_get_or(const char *name, const char *dflt);
/* "on"/"true"/"1"/"yes"/"enable" → true; "off"/"false"/"0"/"no"/"disable" → false; else dflt. */
bool cfg_bool(const char *name, bool dflt);
/* Integer with a default; *ok (optional) false when set but not a number. */
long cfg_long(const char *name, long dflt, bool *ok);

#endif
