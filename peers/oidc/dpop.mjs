// oidc-provider with DPoP (RFC 9449) for en-auth's integration tests: a configuration of its
// own, beside server.mjs.
//
//   cd peers/oidc && npm ci && PORT=0 TOKEN_TTL_SECONDS=4 node dpop.mjs
//
// DPoP is enabled and REQUIRES a server nonce on every proof (features.dPoP.nonceSecret +
// requireNonce): a first token request without one is answered 400 use_dpop_nonce with a
// DPoP-Nonce header. The client-credentials client `svc-dpop` has dpop_bound_access_tokens:
// its tokens must be DPoP-bound (token_type DPoP, cnf.jkt = the proof key's thumbprint, shown
// by introspection to the `resource-server` client).
//
// Environment: PORT, TOKEN_TTL_SECONDS, EXIT_WITH_PARENT as server.mjs. Prints exactly one
// line of JSON on stdout once listening.

import { randomBytes, generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';

console.log = console.error;
console.info = console.error;
console.debug = console.error;

const initialParent = process.ppid;
const { default: Provider } = await import('oidc-provider');

const HOST = '127.0.0.1';
const requestedPort = Number.parseInt(process.env.PORT || '0', 10);
const ttl = Number.parseInt(process.env.TOKEN_TTL_SECONDS || '4', 10);
if (!Number.isInteger(requestedPort) || requestedPort < 0 || requestedPort > 65535) {
  console.error(`invalid PORT: ${process.env.PORT}`);
  process.exit(2);
}
if (!Number.isInteger(ttl) || ttl <= 0) {
  console.error(`invalid TOKEN_TTL_SECONDS: ${process.env.TOKEN_TTL_SECONDS}`);
  process.exit(2);
}

const SCOPE = 'api:read';
const clients = {
  dpop: { id: 'svc-dpop', secret: 'dpop-secret-0123456789' },
  introspector: { id: 'resource-server', secret: 'introspector-secret-0123456789' },
};

let handler = (_req, res) => { res.statusCode = 503; res.end(); };
const server = createServer((req, res) => handler(req, res));
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(requestedPort, HOST, resolve);
});
const { port } = server.address();
const issuer = `http://${HOST}:${port}`;

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'en-auth-dpop-test', alg: 'RS256', use: 'sig' };

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clients.dpop.id,
      client_secret: clients.dpop.secret,
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      scope: SCOPE,
      dpop_bound_access_tokens: true,
    },
    {
      client_id: clients.introspector.id,
      client_secret: clients.introspector.secret,
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: [],
      response_types: [],
      redirect_uris: [],
    },
  ],
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  scopes: [SCOPE],
  ttl: { ClientCredentials: ttl },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: {
      enabled: true,
      allowedPolicy: async (_ctx, client, token) => client.clientId === clients.introspector.id
        || client.clientId === token.clientId,
    },
    dPoP: {
      enabled: true,
      nonceSecret: randomBytes(32),
      requireNonce: () => true,
    },
  },
});

provider.on('server_error', (_ctx, err) => console.error('server_error', err));
handler = provider.callback();

process.stdout.write(`${JSON.stringify({
  issuer,
  discovery_endpoint: `${issuer}/.well-known/openid-configuration`,
  token_endpoint: `${issuer}/token`,
  introspection_endpoint: `${issuer}/token/introspection`,
  scope: SCOPE,
  clients,
  token_ttl_seconds: ttl,
  pid: process.pid,
})}\n`);

let stopping = false;
function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  console.error(`oidc dpop peer: ${signal}, shutting down`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

if (process.env.EXIT_WITH_PARENT !== '0' && initialParent !== 1) {
  setInterval(() => {
    if (process.ppid !== initialParent) shutdown('parent exited');
  }, 500).unref();
}
