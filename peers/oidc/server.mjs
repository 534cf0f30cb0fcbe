// oidc-provider peer for en-auth's integration tests.
//
//   cd peers/oidc && npm ci && PORT=0 TOKEN_TTL_SECONDS=4 node server.mjs
//
// Environment:
//   PORT               port on 127.0.0.1 (0 or unset: any free port)
//   TOKEN_TTL_SECONDS  lifetime of client-credentials access tokens, in seconds (default 4)
//   EXIT_WITH_PARENT   1 (default): exit when the process that started this one dies; 0: don't
//   CLIENT_AUTH_METHODS  comma-separated token endpoint auth methods the server supports (and
//                      lists in its discovery documents); clients of other methods are left
//                      out. Default: oidc-provider's own list.
//
// Prints exactly one line of JSON on stdout once listening, then serves until
// SIGTERM/SIGINT. Everything else (including oidc-provider's own notices, which it
// writes with console.info) goes to stderr.

import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  announce, plainServer, requestedPort, signingKey, stopOnSignalOrOrphaned, tokenTtl,
} from './common.mjs';

const { default: Provider, errors } = await import('oidc-provider');
// oidc-provider's own JOSE library (pinned through package-lock.json).
const jose = await import('jose');

const ttl = tokenTtl();

const authMethods = process.env.CLIENT_AUTH_METHODS
  ? process.env.CLIENT_AUTH_METHODS.split(',').map((m) => m.trim()).filter(Boolean)
  : undefined;
const supported = (client) => !authMethods || authMethods.includes(client.token_endpoint_auth_method);

const SCOPE = 'api:read';
// Resource indicator (RFC 8707) for JWT access tokens; without `resource`, tokens are opaque.
const JWT_RESOURCE = 'urn:en-auth:api';

// RFC 6749 §2.3.1: client_secret_basic form-encodes id and secret before base64.
// oidc-provider only accepts VSCHAR (%x20-7E, RFC 6749 Appendix A) in secrets, so
// this exercises space, '+', '%', ':', '/', '=', '&' but no non-ASCII.
const clients = {
  basic: { id: 'svc-basic', secret: 's3cr+t=$!:%/ &?~' },
  post: { id: 'svc-post', secret: 'post-secret-0123456789' },
  introspector: { id: 'resource-server', secret: 'introspector-secret-0123456789' },
  exchanger: { id: 'svc-exchanger', secret: 'exchanger-secret-0123456789' },
};

// RFC 8693 token exchange, registered below: a client-credentials access token of this server
// (issued to another client) exchanged for a token of the exchanging client.
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

const m2m = (c, method) => ({
  client_id: c.id,
  client_secret: c.secret,
  token_endpoint_auth_method: method,
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  scope: SCOPE,
});

// RFC 7523 (JWT client authentication, the jwt-bearer grant). TEST-ONLY keys, generated at
// every start; the private halves are written to a fresh temporary directory for the tests to
// sign with (their paths are in the JSON line), the public halves registered below.
const keyDir = mkdtempSync(join(tmpdir(), 'en-auth-oidc-test-keys-'));
const keyFiles = {};
const writeKey = (name, text) => {
  const path = join(keyDir, name);
  writeFileSync(path, text, { mode: 0o600 });
  keyFiles[name.replace(/[.-]/g, '_')] = path;
};
const rsaKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ecKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const edKey = generateKeyPairSync('ed25519');
// Registered nowhere: "a wrong key".
const strangerKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
// The issuer of jwt-bearer grant assertions (a workload platform, say).
const platformKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const PLATFORM_ISSUER = 'https://platform.en-auth.test';
writeKey('rsa.pem', rsaKey.privateKey.export({ format: 'pem', type: 'pkcs8' }));
writeKey('rsa-pkcs1.pem', rsaKey.privateKey.export({ format: 'pem', type: 'pkcs1' }));
writeKey('rsa.jwk', JSON.stringify({ ...rsaKey.privateKey.export({ format: 'jwk' }), kid: 'rsa-1' }));
writeKey('ec.pem', ecKey.privateKey.export({ format: 'pem', type: 'pkcs8' }));
writeKey('ec-sec1.pem', ecKey.privateKey.export({ format: 'pem', type: 'sec1' }));
writeKey('ec.jwk', JSON.stringify({ ...ecKey.privateKey.export({ format: 'jwk' }), kid: 'ec-1' }));
writeKey('ed.pem', edKey.privateKey.export({ format: 'pem', type: 'pkcs8' }));
writeKey('ed.jwk', JSON.stringify({ ...edKey.privateKey.export({ format: 'jwk' }), kid: 'ed-1' }));
writeKey('stranger.pem', strangerKey.privateKey.export({ format: 'pem', type: 'pkcs8' }));
writeKey('platform.pem', platformKey.privateKey.export({ format: 'pem', type: 'pkcs8' }));
const publicJwk = (key, kid) => ({ ...key.publicKey.export({ format: 'jwk' }), kid, use: 'sig' });

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const jwtClients = {
  // private_key_jwt with any of three keys (RS256/PS256 on RSA, ES256, EdDSA).
  pkjwt: { id: 'svc-pkjwt' },
  // client_secret_jwt (HS256): oidc-provider wants a secret of at least 32 bytes.
  csjwt: { id: 'svc-csjwt', secret: 'csjwt-secret-0123456789abcdefghijklmnopqrstuv' },
  // A public client (`none`), for the jwt-bearer grant.
  public: { id: 'svc-public' },
};

const { server, issuer, serve } = await plainServer(requestedPort());

// The claims an exchanged token records (token exchange, below), by token object: returned to
// oidc-provider as the token's extra claims when it is saved, and shown by introspection.
const exchangeClaims = new WeakMap();

// A token obtained with a client assertion (private_key_jwt, client_secret_jwt) also records
// the assertion's `aud` (verified by oidc-provider, which accepts the issuer, the token endpoint
// or the endpoint's URL): introspection shows which one the client chose.
const tokenClaims = (ctx, token) => {
  const assertion = ctx?.oidc?.params?.client_assertion;
  const recorded = exchangeClaims.get(token);
  if (!assertion) return recorded;
  return { ...recorded, client_assertion_aud: jose.decodeJwt(assertion).aud };
};

const provider = new Provider(issuer, {
  extraTokenClaims: async (ctx, token) => tokenClaims(ctx, token),
  ...(authMethods ? { clientAuthMethods: authMethods } : {}),
  clients: [
    m2m(clients.basic, 'client_secret_basic'),
    m2m(clients.post, 'client_secret_post'),
    {
      client_id: clients.exchanger.id,
      client_secret: clients.exchanger.secret,
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: [TOKEN_EXCHANGE],
      response_types: [],
      redirect_uris: [],
      scope: SCOPE,
    },
    {
      client_id: jwtClients.pkjwt.id,
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: {
        keys: [publicJwk(rsaKey, 'rsa-1'), publicJwk(ecKey, 'ec-1'), publicJwk(edKey, 'ed-1')],
      },
      grant_types: ['client_credentials', JWT_BEARER],
      response_types: [],
      redirect_uris: [],
      scope: SCOPE,
    },
    {
      client_id: jwtClients.csjwt.id,
      client_secret: jwtClients.csjwt.secret,
      token_endpoint_auth_method: 'client_secret_jwt',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      scope: SCOPE,
    },
    {
      client_id: jwtClients.public.id,
      token_endpoint_auth_method: 'none',
      grant_types: [JWT_BEARER],
      response_types: [],
      redirect_uris: [],
      scope: SCOPE,
    },
    {
      client_id: clients.introspector.id,
      client_secret: clients.introspector.secret,
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: [],
      response_types: [],
      redirect_uris: [],
    },
  ].filter(supported),
  jwks: { keys: [signingKey('en-auth-test')] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  scopes: [SCOPE],
  // Exchanged tokens (the exchanger's) live an hour: a test sees them renewed only when their
  // subject changes.
  ttl: { ClientCredentials: (_ctx, _token, client) => (client.clientId === clients.exchanger.id ? 3600 : ttl) },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: {
      enabled: true,
      // Only the resource server, or the token's own client, may introspect.
      allowedPolicy: async (_ctx, client, token) => client.clientId === clients.introspector.id
        || client.clientId === token.clientId,
    },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (_ctx, _client, oneOf) => oneOf,
      useGrantedResource: async () => false,
      getResourceServerInfo: async (_ctx, resourceIndicator) => {
        if (resourceIndicator !== JWT_RESOURCE) throw new errors.InvalidTarget();
        return {
          scope: SCOPE,
          audience: JWT_RESOURCE,
          accessTokenTTL: ttl,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
});

provider.on('server_error', (_ctx, err) => console.error('server_error', err));

// The subject token must be an active access token this server issued by client credentials
// (validated by looking it up, as introspection would); the actor token, when sent, too. The
// exchanged token records, for introspection: the subject's client, a SHA-256 of the subject
// token (base64url), the requested audience and resources, and the actor's client.
const sha256 = (value) => createHash('sha256').update(value).digest('base64url');
const activeToken = async (value, what) => {
  const token = value && await provider.ClientCredentials.find(value);
  if (!token || token.isExpired) throw new errors.InvalidGrant(`${what} is invalid, expired or not this server's`);
  return token;
};
provider.registerGrantType(TOKEN_EXCHANGE, async (ctx) => {
  const { params, client } = ctx.oidc;
  if (params.subject_token_type !== ACCESS_TOKEN_TYPE) {
    throw new errors.InvalidRequest('subject_token_type must be urn:ietf:params:oauth:token-type:access_token');
  }
  if (params.requested_token_type && params.requested_token_type !== ACCESS_TOKEN_TYPE) {
    throw new errors.InvalidRequest('only access tokens are issued');
  }
  const subject = await activeToken(params.subject_token, 'subject_token');
  let actor;
  if (params.actor_token) {
    if (params.actor_token_type !== ACCESS_TOKEN_TYPE) throw new errors.InvalidRequest('actor_token_type must be the access token type');
    actor = await activeToken(params.actor_token, 'actor_token');
  }
  const resources = [].concat(params.resource || []);
  const token = new provider.ClientCredentials({ client, scope: params.scope || undefined });
  exchangeClaims.set(token, {
    subject_client_id: subject.clientId,
    subject_token_sha256: sha256(params.subject_token),
    ...(actor ? { actor_client_id: actor.clientId } : {}),
    ...(params.audience ? { exchanged_audience: params.audience } : {}),
    ...(resources.length ? { exchanged_resource: resources } : {}),
  });
  const value = await token.save();
  ctx.body = {
    access_token: value,
    issued_token_type: ACCESS_TOKEN_TYPE,
    token_type: 'Bearer',
    expires_in: token.expiration,
    ...(token.scope ? { scope: token.scope } : {}),
  };
}, ['subject_token', 'subject_token_type', 'actor_token', 'actor_token_type', 'requested_token_type', 'audience', 'resource', 'scope'], ['resource', 'audience']);

// The JWT bearer grant (RFC 7523 §2.1): an assertion from PLATFORM_ISSUER, signed with the
// platform's key, for this server (aud: the issuer or the token endpoint), unexpired, buys a
// token for the client; its `sub` is kept as the token's subject.
provider.registerGrantType(JWT_BEARER, async (ctx) => {
  const { client, params } = ctx.oidc;
  let payload;
  try {
    ({ payload } = await jose.jwtVerify(params.assertion, platformKey.publicKey, {
      issuer: PLATFORM_ISSUER,
      audience: [issuer, `${issuer}/token`],
      requiredClaims: ['sub', 'exp'],
    }));
  } catch (err) {
    throw new errors.InvalidGrant(`assertion refused (${err.code || 'invalid'})`);
  }
  const token = new provider.ClientCredentials({
    client,
    scope: params.scope || undefined,
    extra: { sub: payload.sub },
  });
  ctx.oidc.entity('ClientCredentials', token);
  const value = await token.save();
  ctx.body = {
    access_token: value,
    expires_in: token.expiration,
    token_type: 'Bearer',
    scope: token.scope,
  };
}, ['assertion', 'scope']);

serve(provider.callback());

announce({
  issuer,
  discovery_endpoint: `${issuer}/.well-known/openid-configuration`,
  token_endpoint: `${issuer}/token`,
  introspection_endpoint: `${issuer}/token/introspection`,
  revocation_endpoint: `${issuer}/token/revocation`,
  jwks_uri: `${issuer}/jwks`,
  scope: SCOPE,
  jwt_resource: JWT_RESOURCE,
  clients,
  jwt_clients: jwtClients,
  key_files: keyFiles,
  platform_issuer: PLATFORM_ISSUER,
  token_ttl_seconds: ttl,
});

stopOnSignalOrOrphaned('oidc peer', [server], () => rmSync(keyDir, { recursive: true, force: true }));
