// oidc-provider configured for people at a terminal: en-auth's tests of the authorization code
// grant with PKCE (RFC 6749 §4.1, RFC 7636, RFC 8252 loopback redirect), the device
// authorization grant (RFC 8628), refresh tokens with rotation and revocation (RFC 7009).
//
//   cd peers/oidc && npm ci && PORT=0 node people.mjs
//
// Environment:
//   PORT                      port on 127.0.0.1 (0 or unset: any free port)
//   ACCESS_TOKEN_TTL_SECONDS  lifetime of access tokens (default 4)
//   DEVICE_CODE_TTL_SECONDS   lifetime of device codes (default 6): a test that waits that long
//                             sees `expired_token`
//   POLL_INTERVAL_SECONDS     the `interval` the device authorization response names (default 1;
//                             oidc-provider sends none, which RFC 8628 §3.2 reads as 5 seconds)
//   EXIT_WITH_PARENT          1 (default): exit when the process that started this one dies
//
// The sign-in and consent pages are a minimal interaction handler a test drives with plain
// HTTP (no browser, no HTML to scrape), keeping the provider's cookies:
//   GET  /interaction/:uid   JSON: { uid, prompt, client_id, scope }
//   POST /interaction/:uid   form `action=approve&login=<account>`: signs the account in and
//                            grants every requested scope (login and consent in one step);
//                            form `action=deny`: the user cancels (`access_denied`).
// The device flow's own pages are oidc-provider's: GET `verification_uri_complete` answers a
// form carrying an `xsrf` value; POST it back to `verification_uri` with `confirm=yes` (or
// `abort=yes`, the user cancels) to go on to the interaction above.
//
// Prints exactly one line of JSON on stdout once listening, then serves until SIGTERM/SIGINT.

import { randomBytes } from 'node:crypto';

import {
  announce, intFromEnv, plainServer, requestedPort, signingKey, stopOnSignalOrOrphaned,
} from './common.mjs';

const { default: Provider } = await import('oidc-provider');

const accessTtl = intFromEnv('ACCESS_TOKEN_TTL_SECONDS', 4);
const deviceTtl = intFromEnv('DEVICE_CODE_TTL_SECONDS', 6);
const interval = intFromEnv('POLL_INTERVAL_SECONDS', 1);

const SCOPE = 'openid api:read';
// A public native client (RFC 8252): no secret, PKCE required, any port on the loopback
// redirect URI (oidc-provider ignores a loopback redirect's port for native clients).
const PUBLIC_CLIENT = 'people-cli';
const DEVICE_CODE = 'urn:ietf:params:oauth:grant-type:device_code';

const { server, issuer, serve } = await plainServer(requestedPort());

const provider = new Provider(issuer, {
  clients: [{
    client_id: PUBLIC_CLIENT,
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token', DEVICE_CODE],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1/callback'],
    scope: 'openid api:read offline_access',
  }],
  jwks: { keys: [signingKey('people-test')] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  scopes: ['openid', 'offline_access', 'api:read'],
  findAccount: async (_ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
  interactions: { url: async (_ctx, interaction) => `/interaction/${interaction.uid}` },
  pkce: { required: () => true },
  // Every sign-in of a client allowed the refresh_token grant gets a refresh token (no
  // `offline_access` dance), rotated at every use: the old one is then refused.
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: true,
  ttl: {
    AccessToken: accessTtl,
    DeviceCode: deviceTtl,
    AuthorizationCode: 60,
    IdToken: 3600,
    RefreshToken: 3600,
    Grant: 3600,
    Interaction: 600,
    Session: 3600,
  },
  features: {
    devInteractions: { enabled: false },
    deviceFlow: { enabled: true },
    revocation: { enabled: true },
  },
});

provider.on('server_error', (_ctx, err) => console.error('server_error', err));

// oidc-provider names no polling `interval` (RFC 8628 §3.2: then 5 seconds): this one does.
provider.use(async (ctx, next) => {
  await next();
  if (ctx.path === '/device/auth' && ctx.status === 200 && ctx.body && ctx.body.device_code) {
    ctx.body = { ...ctx.body, interval };
  }
});

const readForm = (req) => new Promise((resolve, reject) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk) => { body += chunk; });
  req.on('end', () => resolve(new URLSearchParams(body)));
  req.on('error', reject);
});

const json = (res, status, value) => {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(value));
};

// The interaction pages (see the header).
async function interaction(req, res) {
  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch (err) {
    return json(res, 400, { error: 'no_interaction', error_description: String(err.message || err) });
  }
  if (req.method === 'GET') {
    return json(res, 200, {
      uid: details.uid,
      prompt: details.prompt.name,
      client_id: details.params.client_id,
      scope: details.params.scope,
    });
  }
  if (req.method !== 'POST') return json(res, 405, { error: 'method_not_allowed' });
  const form = await readForm(req);
  if (form.get('action') === 'deny') {
    return provider.interactionFinished(req, res, {
      error: 'access_denied',
      error_description: 'the user cancelled the sign-in',
    }, { mergeWithLastSubmission: false });
  }
  const accountId = form.get('login');
  if (form.get('action') !== 'approve' || !accountId) {
    return json(res, 400, { error: 'bad_form', error_description: 'action=approve&login=… or action=deny' });
  }
  const grant = new provider.Grant({ accountId, clientId: details.params.client_id });
  grant.addOIDCScope(details.params.scope || 'openid');
  const grantId = await grant.save();
  return provider.interactionFinished(req, res, {
    login: { accountId },
    consent: { grantId },
  }, { mergeWithLastSubmission: false });
}

const callback = provider.callback();
serve((req, res) => {
  if (req.url.startsWith('/interaction/')) {
    interaction(req, res).catch((err) => {
      console.error('interaction', err);
      if (!res.headersSent) json(res, 500, { error: 'server_error' });
    });
    return;
  }
  callback(req, res);
});

announce({
  issuer,
  discovery_endpoint: `${issuer}/.well-known/openid-configuration`,
  token_endpoint: `${issuer}/token`,
  device_authorization_endpoint: `${issuer}/device/auth`,
  revocation_endpoint: `${issuer}/token/revocation`,
  client_id: PUBLIC_CLIENT,
  scope: SCOPE,
  access_token_ttl_seconds: accessTtl,
  device_code_ttl_seconds: deviceTtl,
  poll_interval_seconds: interval,
});

stopOnSignalOrOrphaned('oidc people peer', [server]);
