/* login_oidc.h -- `tessera login oidc`: signs in at an OpenID Connect provider and trades the
 * id_token for temporary credentials (AssumeRoleWithWebIdentity).
 *
 *   login oidc [--endpoint URL] --provider ISSUER_URL [--client-id ID] [--scope SCOPES]
 *              [--role-arn ARN] [--session-name NAME] [--duration SECONDS] [--policy FILE]
 *              [--browser] [--port N] [--timeout SECONDS] [--cache FILE] [--env]
 *
 * The provider's discovery document decides the flow: the device authorization grant (RFC
 * 8628) when it offers a device_authorization_endpoint (unless --browser), otherwise the
 * authorization code flow with PKCE (S256), state and nonce through a redirect to
 * http://127.0.0.1:PORT/callback on a one-shot local listener. The user is told on stderr
 * where to sign in. The client secret, when the client has one, comes from
 * TESSERA_OIDC_CLIENT_SECRET (never the command line); the client id from --client-id or
 * TESSERA_OIDC_CLIENT_ID. With --cache FILE, credentials valid for more than 10 minutes are
 * printed from FILE (0600) without signing in, and fresh ones are stored there with the
 * provider's refresh token when it gives one; expired ones are renewed through that refresh
 * token (grant refresh_token) without a terminal: what an aws credential_process profile
 * needs. Output and exit status as `login ldap` (cli/login.h).
 */
#ifndef TS_CLI_LOGIN_OIDC_H
#define TS_CLI_LOGIN_OIDC_H

/* argv[0] is "oidc". Returns the exit status (0, 1 refused/unreachable, 2 usage). */
int login_oidc_main(int argc, char **argv);

#endif
