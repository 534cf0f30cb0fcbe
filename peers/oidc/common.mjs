// What every oidc-provider configuration of en-auth's tests does alike (server.mjs, people.mjs,
// mtls.mjs, dpop.mjs): stdout kept for the one JSON line, the environment's numbers read, a
// listener on 127.0.0.1 bound before the issuer is known, a test signing key, the JSON line,
// and a shutdown on SIGTERM/SIGINT or when the process that started the peer is gone.
//
// Importing this module moves console.log/info/debug to stderr at once: oidc-provider prints
// its notices with console.info, i.e. on stdout, which carries only the JSON line.

import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';

console.log = console.error;
console.info = console.error;
console.debug = console.error;

// The parent as this module is first evaluated, before anything could have orphaned us.
const initialParent = process.ppid;

export const HOST = '127.0.0.1';

// A non-negative integer from the environment variable `name` (`fallback` when unset); an
// invalid value exits with status 2. `positive` refuses 0 too.
export function intFromEnv(name, fallback, { positive = false } = {}) {
  const value = Number.parseInt(process.env[name] || String(fallback), 10);
  if (!Number.isInteger(value) || value < 0 || (positive && value === 0)) {
    console.error(`invalid ${name}: ${process.env[name]}`);
    process.exit(2);
  }
  return value;
}

// The port to listen on: PORT (0 or unset: any free port).
export function requestedPort() {
  const port = intFromEnv('PORT', 0);
  if (port > 65535) {
    console.error(`invalid PORT: ${process.env.PORT}`);
    process.exit(2);
  }
  return port;
}

// The lifetime of client-credentials access tokens, in seconds: TOKEN_TTL_SECONDS (default 4).
export function tokenTtl() {
  return intFromEnv('TOKEN_TTL_SECONDS', 4, { positive: true });
}

// `server` listening on HOST:`port` (a `createServer` of node:http or node:https); resolves to
// the port bound.
export async function listen(server, port) {
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, HOST, resolve);
  });
  return server.address().port;
}

// An http server on HOST:`port` that answers 503 until `serve(handler)` gives it its handler:
// bound first, so that port 0 is resolved before the issuer (its URL) is fixed.
export async function plainServer(port) {
  let handler = (_req, res) => { res.statusCode = 503; res.end(); };
  const server = createServer((req, res) => handler(req, res));
  const bound = await listen(server, port);
  return {
    server,
    issuer: `http://${HOST}:${bound}`,
    serve: (next) => { handler = next; },
  };
}

// A fresh RS256 signing key (JWK with its private members) for the provider's `jwks`.
// TEST-ONLY: generated at every start.
export function signingKey(kid) {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
}

// Prints the one line of JSON (`info` and this process's pid) on stdout.
export function announce(info) {
  process.stdout.write(`${JSON.stringify({ ...info, pid: process.pid })}\n`);
}

// Serves until SIGTERM/SIGINT or until the process that started this one has gone (unless
// EXIT_WITH_PARENT=0, for a peer started detached by hand): then runs `cleanup`, closes
// `servers` and exits 0 (at the latest 2 s later). `name` is for the log line.
export function stopOnSignalOrOrphaned(name, servers, cleanup = () => {}) {
  let stopping = false;
  const shutdown = (why) => {
    if (stopping) return;
    stopping = true;
    console.error(`${name}: ${why}, shutting down`);
    cleanup();
    const closed = servers.map((server) => new Promise((resolve) => {
      server.close(resolve);
      server.closeAllConnections();
    }));
    Promise.all(closed).then(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('exit', cleanup);
  if (process.env.EXIT_WITH_PARENT !== '0' && initialParent !== 1) {
    setInterval(() => {
      if (process.ppid !== initialParent) shutdown('parent exited');
    }, 500).unref();
  }
}
