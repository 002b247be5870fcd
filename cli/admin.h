/* admin.h -- the `tessera admin ...` client: drives the admin API (sts/admin_api.c) over
 * HTTP(S) with libcurl, signing every request with SigV4. Forms: DESIGN §5 and docs/API.md.
 */
#ifndef TS_ADMIN_H
#define TS_ADMIN_H

/* Runs one admin command. argv[0] is the subcommand's own name ("admin"); a whole argv
 * ("tessera", "admin", ...) is accepted too. Global options come first:
 *   [--endpoint URL] [--access-key AK] [--secret-key SK] [--json]
 * with defaults from TESSERA_ENDPOINT (http://127.0.0.1:9000), TESSERA_ACCESS_KEY and
 * TESSERA_SECRET_KEY; https endpoints trust the system store plus TESSERA_CA_FILE.
 * Prints the result on stdout (human-readable, or the server's JSON with --json).
 * Returns the process exit status: 0 on success, 1 when the server refused (its error code
 * and message go to stderr: "tessera: NoSuchEntity: user bob does not exist") or the request
 * failed, 2 on a usage error. `--help` after the options, a command group or a command
 * prints that usage on stdout and returns 0 without credentials. */
int admin_main(int argc, char **argv);

#endif
