// oidc-provider with mutual TLS (RFC 8705), for en-auth's mTLS tests.
//
//   cd peers/oidc && npm ci && node mtls.mjs
//
// At start it makes, with openssl, in a fresh temporary directory: a test CA, a server
// certificate for 127.0.0.1 signed by it, a client certificate signed by it (tls_client_auth),
// a second one (another certificate of the same client), and a self-signed client certificate
// (self_signed_tls_client_auth). TEST-ONLY keys, deleted at exit.
//
// It serves one oidc-provider on three listeners, all on 127.0.0.1:
//   - plain http (the issuer: discovery, introspection for the resource server's client);
//   - https asking for a client certificate (requestCert, not rejecting any: oidc-provider
//     decides), advertised as mtls_endpoint_aliases.token_endpoint (RFC 8705 §5);
// and a resource server over https asking for a client certificate, which accepts a token
// only if oidc-provider issued it and, when the token is certificate-bound (x5t#S256,
// RFC 8705 §3), only from a client presenting that certificate (thumbprint computed here
// with node:crypto over the presented certificate).
//
// Environment:
//   TOKEN_TTL_SECONDS  lifetime of client-credentials access tokens, in seconds (default 4)
//   EXIT_WITH_PARENT   1 (default): exit when the process that started this one dies; 0: don't
//
// Prints exactly one line of JSON on stdout once listening, then serves until SIGTERM/SIGINT.

import { execFileSync } from 'node:child_process';
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  announce, HOST, listen, stopOnSignalOrOrphaned, tokenTtl,
} from './common.mjs';

const { default: Provider } = await import('oidc-provider');

const ttl = tokenTtl();
const SCOPE = 'api:read';

// ---- certificates (openssl) ----
const dir = mkdtempSync(join(tmpdir(), 'en-auth-mtls-'));
const file = (name) => join(dir, name);
const openssl = (...args) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
const extensions = (name, lines) => {
  writeFileSync(file(name), `${lines.join('\n')}\n`);
  return file(name);
};

openssl('req', '-x509', ...ecKey, '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '2',
  '-subj', '/CN=en-auth test CA', '-addext', 'basicConstraints=critical,CA:TRUE',
  '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
const signed = (name, subject, ext) => {
  openssl('req', '-new', ...ecKey, '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`), '-subj', subject);
  openssl('x509', '-req', '-in', file(`${name}.csr`), '-CA', file('ca.pem'), '-CAkey', file('ca.key'),
    '-CAcreateserial', '-out', file(`${name}.pem`), '-days', '2', '-extfile', ext);
};
signed('server', '/CN=localhost', extensions('server.ext', [
  'subjectAltName=IP:127.0.0.1,DNS:localhost', 'basicConstraints=CA:FALSE',
  'keyUsage=critical,digitalSignature', 'extendedKeyUsage=serverAuth']));
const clientExt = extensions('client.ext', [
  'basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=clientAuth']);
const CLIENT_DN = 'CN=en-auth-mtls-client';
signed('client', `/${CLIENT_DN}`, clientExt);
// Another certificate with the same subject: accepted for tls_client_auth, but a token bound
// to `client` is not valid with it.
signed('client2', `/${CLIENT_DN}`, clientExt);
// PKCS #1 RSA key (`RSA PRIVATE KEY`), for the key formats.
openssl('genrsa', '-traditional', '-out', file('client-rsa.key'), '2048');
openssl('req', '-new', '-key', file('client-rsa.key'), '-out', file('client-rsa.csr'), '-subj', `/${CLIENT_DN}`);
openssl('x509', '-req', '-in', file('client-rsa.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'),
  '-CAcreateserial', '-out', file('client-rsa.pem'), '-days', '2', '-extfile', clientExt);
openssl('req', '-x509', ...ecKey, '-keyout', file('self.key'), '-out', file('self.pem'), '-days', '2',
  '-subj', '/CN=en-auth-self-signed-client', '-addext', 'extendedKeyUsage=clientAuth');

const x509 = (name) => new X509Certificate(readFileSync(file(`${name}.pem`)));
const thumbprint = (cert) => createHash('sha256').update(cert.raw).digest('base64url');
const selfCert = x509('self');

const clients = {
  tls: { id: 'svc-mtls' },
  self_signed: { id: 'svc-mtls-self-signed' },
  // client_secret_basic with certificate-bound tokens (RFC 8705 §3 with another method).
  bound_secret: { id: 'svc-bound-secret', secret: 'bound-secret-0123456789' },
  introspector: { id: 'resource-server', secret: 'introspector-secret-0123456789' },
};
const m2m = (extra) => ({
  grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: SCOPE, ...extra,
});

// ---- listeners (bound first: the ports go into the metadata) ----
let handler = (_req, res) => { res.statusCode = 503; res.end(); };
const tls = {
  key: readFileSync(file('server.key')),
  cert: readFileSync(file('server.pem')),
  ca: readFileSync(file('ca.pem')),
  requestCert: true,
  rejectUnauthorized: false,
};
const plain = createHttpServer((req, res) => handler(req, res));
const mutual = createHttpsServer(tls, (req, res) => handler(req, res));
let resourceHandler = (_req, res) => { res.statusCode = 503; res.end(); };
const resource = createHttpsServer(tls, (req, res) => resourceHandler(req, res));
const issuer = `http://${HOST}:${await listen(plain, 0)}`;
const mtlsBase = `https://${HOST}:${await listen(mutual, 0)}`;
const resourceUrl = `https://${HOST}:${await listen(resource, 0)}/resource`;

// The certificate the client presented on this request's connection, if any.
const peerCertificate = (socket) => {
  if (typeof socket.getPeerX509Certificate !== 'function') return undefined;
  return socket.getPeerX509Certificate() || undefined;
};

const provider = new Provider(issuer, {
  clientAuthMethods: ['client_secret_basic', 'tls_client_auth', 'self_signed_tls_client_auth'],
  clients: [
    m2m({
      client_id: clients.tls.id,
      token_endpoint_auth_method: 'tls_client_auth',
      tls_client_auth_subject_dn: CLIENT_DN,
      tls_client_certificate_bound_access_tokens: true,
    }),
    m2m({
      client_id: clients.self_signed.id,
      token_endpoint_auth_method: 'self_signed_tls_client_auth',
      jwks: { keys: [{ ...selfCert.publicKey.export({ format: 'jwk' }), x5c: [selfCert.raw.toString('base64')] }] },
      tls_client_certificate_bound_access_tokens: true,
    }),
    m2m({
      client_id: clients.bound_secret.id,
      client_secret: clients.bound_secret.secret,
      token_endpoint_auth_method: 'client_secret_basic',
      tls_client_certificate_bound_access_tokens: true,
    }),
    {
      client_id: clients.introspector.id,
      client_secret: clients.introspector.secret,
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: [],
      response_types: [],
      redirect_uris: [],
    },
  ],
  discovery: { mtls_endpoint_aliases: { token_endpoint: `${mtlsBase}/token` } },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  scopes: [SCOPE],
  ttl: { ClientCredentials: ttl },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: {
      enabled: true,
      allowedPolicy: async (_ctx, client) => client.clientId === clients.introspector.id,
    },
    mTLS: {
      enabled: true,
      certificateBoundAccessTokens: true,
      tlsClientAuth: true,
      selfSignedTlsClientAuth: true,
      getCertificate: (ctx) => peerCertificate(ctx.socket),
      // The chain was verified against the test CA by node (`ca`, requestCert).
      certificateAuthorized: (ctx) => ctx.socket.authorized === true,
      certificateSubjectMatches: (ctx, property, expected) => {
        const cert = peerCertificate(ctx.socket);
        if (property !== 'tls_client_auth_subject_dn' || !cert) return false;
        return cert.subject.split('\n').join(',') === expected;
      },
    },
  },
});
provider.on('server_error', (_ctx, err) => console.error('server_error', err));
handler = provider.callback();

// ---- the resource server ----
const refuse = (res, description) => {
  res.statusCode = 401;
  res.setHeader('www-authenticate', `Bearer error="invalid_token", error_description="${description}"`);
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ error: 'invalid_token', error_description: description }));
};
resourceHandler = async (req, res) => {
  try {
    const match = /^Bearer ([^\s]+)$/.exec(req.headers.authorization || '');
    if (!match) {
      res.statusCode = 401;
      res.setHeader('www-authenticate', 'Bearer');
      res.end();
      return;
    }
    const token = await provider.ClientCredentials.find(match[1]);
    if (!token || token.isExpired) {
      refuse(res, 'unknown or expired token');
      return;
    }
    const bound = token['x5t#S256'];
    const cert = peerCertificate(req.socket);
    const presented = cert ? thumbprint(cert) : null;
    if (bound && !presented) {
      refuse(res, 'the token is bound to a client certificate (RFC 8705) and the request presented none');
      return;
    }
    if (bound && presented !== bound) {
      refuse(res, 'the token is bound to another client certificate (RFC 8705)');
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ client_id: token.clientId, 'x5t#S256': bound || null, presented }));
  } catch (err) {
    console.error('resource error', err);
    res.statusCode = 500;
    res.end();
  }
};

announce({
  issuer,
  token_endpoint: `${issuer}/token`,
  mtls_token_endpoint: `${mtlsBase}/token`,
  introspection_endpoint: `${issuer}/token/introspection`,
  resource_url: resourceUrl,
  scope: SCOPE,
  clients,
  files: {
    ca: file('ca.pem'),
    client_cert: file('client.pem'),
    client_key: file('client.key'),
    client2_cert: file('client2.pem'),
    client2_key: file('client2.key'),
    client_rsa_cert: file('client-rsa.pem'),
    client_rsa_key: file('client-rsa.key'),
    self_signed_cert: file('self.pem'),
    self_signed_key: file('self.key'),
  },
  thumbprints: {
    client: thumbprint(x509('client')),
    client2: thumbprint(x509('client2')),
    client_rsa: thumbprint(x509('client-rsa')),
    self_signed: thumbprint(selfCert),
  },
  token_ttl_seconds: ttl,
});

stopOnSignalOrOrphaned('oidc mtls peer', [plain, mutual, resource], () => rmSync(dir, { recursive: true, force: true }));
