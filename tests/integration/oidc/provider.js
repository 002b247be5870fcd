// A real OpenID Connect provider (panva/oidc-provider) for tessera's integration tests,
// configured like a Keycloak realm: issuer http://127.0.0.1:PORT/realms/demo, Keycloak's
// endpoint paths, RS256, preferred_username, groups and a `policy` claim.
//
//   node provider.js PORT KEYS_FILE
//
// KEYS_FILE holds the private JWKS; when it does not exist a fresh RS256 key (random kid) is
// generated and written, so a test rotates keys by removing the file and restarting.
// Users (any password): alice (policy "readwrite"), bob (policy ["readonly","diag"]), carol
// (policy "list-only,put-only"), dave (no policy claim), erin (groups ["/admins"]), frank
// (policy "no-such-policy"). Client "tessera" / "tessera-secret" may use the authorization
// code flow and client_credentials (JWT access tokens with policy "readonly").
// For roles (test_roles.py): users with CI-style and Kubernetes-style subjects (ci-main,
// ci-feature, k8s-builder, k8s-other: their `sub` is given below, not the login name) and
// users carrying AWS session tags (tag-blue, tag-red: claim https://aws.amazon.com/tags,
// released with scope "tags"). The device authorization grant is enabled for "tessera"
// (tessera login oidc), and a public native client "tessera-cli" (no secret, loopback
// redirects on any port, device flow) exists for it too. "tessera" gets a refresh token
// (grant refresh_token, as Keycloak gives one) when it asks for the scope offline_access.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';

import Provider from 'oidc-provider';

const port = Number(process.argv[2] || 0);
const keysFile = process.argv[3] || 'keys.json';
const prefix = '/realms/demo';
const issuer = `http://127.0.0.1:${port}${prefix}`;

function loadKeys() {
  if (fs.existsSync(keysFile)) return JSON.parse(fs.readFileSync(keysFile, 'utf8'));
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  jwk.kid = crypto.randomBytes(8).toString('hex');
  jwk.alg = 'RS256';
  jwk.use = 'sig';
  const jwks = { keys: [jwk] };
  fs.writeFileSync(keysFile, JSON.stringify(jwks), { mode: 0o600 });
  return jwks;
}

const users = {
  alice: { policy: 'readwrite', groups: ['/dev'] },
  bob: { policy: ['readonly', 'diag'], groups: [] },
  carol: { policy: 'list-only,put-only', groups: [] },
  dave: { groups: [] },
  erin: { groups: ['/admins'] },
  frank: { policy: 'no-such-policy', groups: [] },
  'ci-main': { sub: 'repo:acme/widgets:ref:refs/heads/main', groups: [], extra: { repository: 'acme/widgets' } },
  'ci-feature': { sub: 'repo:acme/widgets:ref:refs/heads/feature', groups: [], extra: { repository: 'acme/widgets' } },
  'ci-other': { sub: 'repo:evil/widgets:ref:refs/heads/main', groups: [], extra: { repository: 'evil/widgets' } },
  'k8s-builder': { sub: 'system:serviceaccount:ci:builder', groups: [] },
  'k8s-other': { sub: 'system:serviceaccount:default:other', groups: [] },
  'tag-blue': { groups: [], tags: { team: ['blue'] } },
  'tag-red': { groups: [], tags: { team: ['red'] } },
  // issue 13 (test_sec_claims.py): claim names that differ only in case, session tag keys
  // that differ only in case, a control character in sub, an id_token for another audience
  'sub-spoof': { sub: 'repo:evil/widgets:ref:refs/heads/main', groups: [],
    extra: { Sub: 'repo:acme/widgets:ref:refs/heads/main' } },
  'home-spoof': { policy: 'sec-home', groups: [], extra: { Sub: 'bob' } },
  'tag-case': { groups: [], tags: { Team: ['blue'], team: ['red'] } },
  'ctl-sub': { sub: 'ctl\u0001sub', policy: 'readonly', groups: [] },
  'pay-user': { policy: 'readonly', groups: [], extra: { azp: 'tessera' } },
};
const TAGS = 'https://aws.amazon.com/tags';
function findUser(id) {
  if (users[id]) return [id, users[id]];
  for (const [login, u] of Object.entries(users)) if (u.sub === id) return [login, u];
  return [undefined, undefined];
}

const configuration = {
  clients: [{
    client_id: 'tessera',
    client_secret: 'tessera-secret',
    redirect_uris: ['http://127.0.0.1/callback'],
    grant_types: ['authorization_code', 'client_credentials',
      'urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
    response_types: ['code'],
    id_token_signed_response_alg: 'RS256',
  }, {
    // a public native client (no secret) for `tessera login oidc`: any loopback port
    client_id: 'tessera-cli',
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    redirect_uris: ['http://127.0.0.1/callback'],
    grant_types: ['authorization_code', 'urn:ietf:params:oauth:grant-type:device_code'],
    response_types: ['code'],
    id_token_signed_response_alg: 'RS256',
  }, {
    // another service of the same provider (issue 13 item 16: its id_tokens are not ours)
    client_id: 'https://payments-api.example',
    client_secret: 'payments-secret',
    redirect_uris: ['http://127.0.0.1/callback'],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    id_token_signed_response_alg: 'RS256',
  }],
  jwks: loadKeys(),
  scopes: ['openid', 'offline_access', 'profile', 'groups', 'policy', 'tags'],
  claims: {
    openid: ['Sub', 'sub'], // 'Sub' (issue 13's case-confusion users only) comes first
    profile: ['preferred_username', 'name', 'repository', 'azp'],
    groups: ['groups'],
    policy: ['policy'],
    tags: [TAGS],
  },
  conformIdTokenClaims: false,
  pkce: { required: () => false },
  routes: {
    authorization: '/protocol/openid-connect/auth',
    token: '/protocol/openid-connect/token',
    jwks: '/protocol/openid-connect/certs',
    userinfo: '/protocol/openid-connect/userinfo',
    end_session: '/protocol/openid-connect/logout',
  },
  cookies: { keys: ['tessera-test-cookie-key'] },
  features: {
    devInteractions: { enabled: true }, // the provider's own login + consent forms
    clientCredentials: { enabled: true },
    deviceFlow: { enabled: true },
    userinfo: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => 'urn:tessera',
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'policy',
        audience: 'tessera',
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
  extraTokenClaims: (ctx, token) => (token.kind === 'ClientCredentials'
    ? { policy: 'readonly', azp: 'tessera' } : undefined),
  async findAccount(ctx, id) {
    const [login, u] = findUser(String(id));
    if (!u) return undefined;
    const sub = u.sub || login;
    return {
      accountId: login, // the login session's id; the tokens' sub is the claim below
      async claims() {
        const c = { sub, preferred_username: login, name: login, groups: u.groups };
        if (u.policy !== undefined) c.policy = u.policy;
        if (u.tags !== undefined) c[TAGS] = { principal_tags: u.tags, transitive_tag_keys: [] };
        Object.assign(c, u.extra || {});
        return c;
      },
    };
  },
  ttl: {
    IdToken: 3600, AccessToken: 3600, ClientCredentials: 3600, Interaction: 600, Session: 3600,
    Grant: 3600, AuthorizationCode: 60,
  },
};

const provider = new Provider(issuer, configuration);
// tessera's browser login (test_browser_login.py) runs on a free loopback port: like a
// Keycloak redirect URI "http://127.0.0.1:*/login/callback", any port is accepted there.
const redirectUriAllowed = provider.Client.prototype.redirectUriAllowed;
provider.Client.prototype.redirectUriAllowed = function allowed(value) {
  if (redirectUriAllowed.call(this, value)) return true;
  let u;
  try { u = new URL(value); } catch { return false; }
  return this.clientId === 'tessera' && u.protocol === 'http:' && u.hostname === '127.0.0.1'
    && u.pathname === '/login/callback' && !u.search && !u.hash;
};
provider.proxy = false;
provider.on('server_error', (ctx, err) => console.error('server_error', err));
const callback = provider.callback();

const server = http.createServer((req, res) => {
  if (!req.url.startsWith(prefix + '/') && req.url !== prefix) {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"error":"not found"}');
    return;
  }
  req.originalUrl = req.url; // oidc-provider derives its mount path from this
  req.url = req.url.substring(prefix.length) || '/';
  callback(req, res);
});
server.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
