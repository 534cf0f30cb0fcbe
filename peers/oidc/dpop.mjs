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

import { randomBytes } from 'node:crypto';

import {
  announce, plainServer, requestedPort, signingKey, stopOnSignalOrOrphaned, tokenTtl,
} from './common.mjs';

const { default: Provider } = await import('oidc-provider');

const ttl = tokenTtl();

const SCOPE = 'api:read';
const clients = {
  dpop: { id: 'svc-dpop', secret: 'dpop-secret-0123456789' },
  introspector: { id: 'resource-server', secret: 'introspector-secret-0123456789' },
};

const { server, issuer, serve } = await plainServer(requestedPort());

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
  jwks: { keys: [signingKey('en-auth-dpop-test')] },
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
serve(provider.callback());

announce({
  issuer,
  discovery_endpoint: `${issuer}/.well-known/openid-configuration`,
  token_endpoint: `${issuer}/token`,
  introspection_endpoint: `${issuer}/token/introspection`,
  scope: SCOPE,
  clients,
  token_ttl_seconds: ttl,
});

stopOnSignalOrOrphaned('oidc dpop peer', [server]);
