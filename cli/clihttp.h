/* clihttp.h -- what the command-line clients (admin, login ldap, login oidc) share about
 * talking HTTP(S) with libcurl. */
#ifndef TS_CLI_CLIHTTP_H
#define TS_CLI_CLIHTTP_H

#include <curl/curl.h>

#include "core/buf.h"

/* Sets the options every client request uses on h: the response body appended to resp
 * (bounded by resp's limit), user agent, connect timeout 10 s and total timeout, http/https
 * only, TLS verification against the system store plus the PEM bundle in TESSERA_CA_FILE. */
void clihttp_defaults(CURL *h, const char *user_agent, long timeout, struct buf *resp);

#endif
