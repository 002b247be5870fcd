/* login.h -- the `tessera login ...` client: obtains temporary credentials from the STS API
 * and prints them for the aws cli and SDKs (credential_process JSON, or shell exports).
 */
#ifndef TS_CLI_LOGIN_H
#define TS_CLI_LOGIN_H

/* Runs `login KIND [options]`. argv[0] is "login"; argv[1] selects the identity kind:
 *
 *   login ldap [--endpoint URL] --user NAME [--password-stdin] [--duration SECONDS]
 *              [--policy FILE] [--env]
 *
 * The endpoint defaults to TESSERA_ENDPOINT (else http://127.0.0.1:9000); https endpoints
 * trust the system store plus TESSERA_CA_FILE. The password comes from stdin's first line
 * (--password-stdin), else TESSERA_LDAP_PASSWORD, else a prompt on the terminal without echo.
 * Prints {"Version":1,"AccessKeyId":..,"SecretAccessKey":..,"SessionToken":..,
 * "Expiration":..} on stdout, or `export AWS_...=` lines with --env. Returns the exit status:
 * 0 on success, 1 when the server refused or could not be reached (its error code and
 * message on stderr), 2 on a usage error; --help prints the usage on stdout (exit 0).
 * ("login oidc" is cli/login_oidc.c; what both share, cli/login_common.c.) */
int login_main(int argc, char **argv);

#endif
