// Known-answer vectors for Cognito SRP, computed by the official AWS JS client
// (amazon-cognito-identity-js, pinned in package-lock.json), never by en-auth.
//
//   node peers/cognito-js/kat.mjs > /tmp/js.json
//
// (peers/kat/generate.sh runs this, then pycognito, and writes the combined
// crates/en-auth-srp/tests/vectors/srp_vectors.json.)
//
// Every vector drives the real `CognitoUser.authenticateUser` USER_SRP_AUTH flow
// against a fake `Client` that answers InitiateAuth with a PASSWORD_VERIFIER
// challenge and records the RespondToAuthChallenge request: SRP_A, the
// signature, TIMESTAMP and USERNAME are exactly what the official client sends.
// Only three things are patched:
//   - `AuthenticationHelper.prototype.generateRandomSmallA` returns the fixed `a`;
//   - `calculateS` / `getPasswordAuthenticationKey` are wrapped (calling the
//     originals) to record x, S, u and the HKDF key;
//   - the global `Date` returns a fixed instant while the flow runs, so
//     `DateHelper.getNowString()` gives a known TIMESTAMP.
// Inputs are derived from a fixed seed with SHA-256, so the output is stable.

import { createRequire } from 'node:module';
import { createHash } from 'node:crypto';

const require = createRequire(import.meta.url);
const lib = 'amazon-cognito-identity-js/lib/';
const AuthenticationHelper = require(`${lib}AuthenticationHelper.js`).default;
const BigInteger = require(`${lib}BigInteger.js`).default;
const CognitoUser = require(`${lib}CognitoUser.js`).default;
const CognitoUserPool = require(`${lib}CognitoUserPool.js`).default;
const AuthenticationDetails = require(`${lib}AuthenticationDetails.js`).default;
const DateHelper = require(`${lib}DateHelper.js`).default;
const VERSION = require('amazon-cognito-identity-js/package.json').version;
const REFERENCE = `amazon-cognito-identity-js@${VERSION}`;

// ---------------------------------------------------------------- inputs

/** Deterministic bytes: SHA-256(label || counter) blocks. */
function bytes(label, n) {
	const out = [];
	for (let i = 0; out.length < n; i++) {
		out.push(...createHash('sha256').update(`en-auth-kat:${label}:${i}`).digest());
	}
	return Buffer.from(out.slice(0, n));
}
const hex = (label, n) => bytes(label, n).toString('hex');

const helper0 = new AuthenticationHelper('kat');
const N = helper0.N;
const NHEX = N.toString(16);
/** A random value in [0, N) as unpadded lowercase hex. */
const randModN = label => new BigInteger(hex(label, 384), 16).mod(N).toString(16);

const UUIDS = [
	'1b7d4c2e-9f0a-4e3b-8c6d-5a2f1e0d9c8b',
	'f0e1d2c3-b4a5-4968-8776-655443322110',
	'00000000-0000-4000-8000-000000000000',
];
const POOLS = ['us-east-1_AbCdEf123', 'eu-west-2_Zz9', 'ap-southeast-2_0123456789'];

// Secret blocks as Cognito sends them are standard base64 of opaque bytes.
const b64 = (label, n) => bytes(label, n).toString('base64');
// Bytes chosen so that the base64 text contains '+' and '/' (hence '-' and '_' in URL-safe form).
const URLISH = Buffer.from([0xfb, 0xff, 0xbf, 0xfe, 0x3e, 0xff, 0x00, 0x10, 0x83, 0xfb, 0xef, 0xff, 0x01]);
const urlSafe = s => s.replace(/\+/g, '-').replace(/\//g, '_');
const unpadded = s => s.replace(/=+$/, '');

const dateAt = iso => Date.parse(iso);

// Each case: overrides of the defaults built from its index.
const CASES = [
	{ note: 'typical: 128-byte a like the reference, e-mail typed, UUID USER_ID_FOR_SRP' },
	{ note: '32-byte a (en-auth default size)', a: hex('a32-1', 32) },
	{ note: '32-byte a with the high bit set', a: 'ff' + hex('a32-2', 31) },
	{ note: 'a with leading zero bytes', a: '0000' + hex('a-lz', 30) },
	{ note: 'tiny a', a: '07' },
	{ note: 'a = N - 2', a: N.subtract(BigInteger.ONE).subtract(BigInteger.ONE).toString(16) },
	{ note: 'B with high bit set (00 pad)', srp_b: 'f' + hex('b-hi', 384).slice(1) },
	{ note: 'B without the high bit, even length', srp_b: '3f' + hex('b-lo', 383) },
	{ note: 'B of odd hex length', srp_b: '5' + hex('b-odd', 383) },
	{ note: 'B of odd hex length, short', srp_b: 'abcdef1' },
	{ note: 'B with leading zero characters', srp_b: '000' + randModN('b-lz') },
	{ note: 'B in upper case', srp_b: randModN('b-uc').toUpperCase() },
	{ note: 'negative B', srp_b: '-' + randModN('b-neg') },
	{ note: 'negative B, magnitude 0x80 00..00 (two\'s complement drops the FF)', srp_b: '-80' + '00'.repeat(383) },
	{ note: 'negative B, magnitude 0x80 00..01', srp_b: '-80' + '00'.repeat(382) + '01' },
	{ note: 'negative small B', srp_b: '-1' },
	{ note: 'B > N (not reduced before hashing u)', srp_b: N.add(new BigInteger(hex('b-gtN', 40), 16)).toString(16) },
	{ note: 'B >= 2^3072 (385 bytes)', srp_b: '1' + hex('b-385', 384) },
	{ note: 'B = N - 1', srp_b: N.subtract(BigInteger.ONE).toString(16) },
	{ note: 'B = 2', srp_b: '2' },
	{ note: 'salt with high bit set (00 pad)', salt: 'c' + hex('s-hi', 16).slice(1) },
	{ note: 'salt without high bit', salt: '4' + hex('s-lo', 16).slice(1) },
	{ note: 'salt of odd hex length', salt: hex('s-odd', 16).slice(1).replace(/^0/, '1') },
	{ note: 'salt with redundant leading zeros (JS parses as integer)', salt: '0000' + '12' + hex('s-lz', 14), shared: true },
	{ note: 'salt with one leading zero byte that keeps the sign', salt: '00' + 'ab' + hex('s-lz2', 14) },
	{ note: 'salt zero', salt: '0' },
	{ note: 'negative salt', salt: '-' + hex('s-neg', 16) },
	{ note: 'negative salt, magnitude 0x80', salt: '-80' },
	{ note: 'salt in upper case', salt: hex('s-uc', 16).toUpperCase() },
	{ note: 'long salt (64 bytes)', salt: hex('s-long', 64) },
	{ note: 'one-character password', password: 'a' },
	{ note: 'unicode password (Latin-1 range)', password: 'Pässwörd-Ünïcødé' },
	{ note: 'unicode password (astral plane, CJK)', password: '🔑密码パスワード' },
	{ note: 'password with colons and spaces', password: ' a:b:c ' },
	{ note: 'long password', password: 'x'.repeat(200) + 'Ω' },
	{ note: 'plain username as USER_ID_FOR_SRP', user_name: 'alice', user_id_for_srp: 'alice', challenge_username: 'alice' },
	{ note: 'e-mail USER_ID_FOR_SRP', user_name: 'Bob.Smith+tag@example.com', user_id_for_srp: 'bob.smith+tag@example.com' },
	{ note: 'unicode USER_ID_FOR_SRP', user_name: 'josé', user_id_for_srp: 'josé', challenge_username: 'josé' },
	{ note: 'second pool', pool_id: POOLS[1] },
	{ note: 'third pool', pool_id: POOLS[2] },
	{ note: 'URL-safe SECRET_BLOCK', secret_block: urlSafe(Buffer.concat([URLISH, bytes('sb-url', 500)]).toString('base64')) },
	{ note: 'SECRET_BLOCK without padding', secret_block: unpadded(bytes('sb-nopad', 502).toString('base64')) },
	{ note: 'URL-safe SECRET_BLOCK without padding', secret_block: unpadded(urlSafe(Buffer.concat([URLISH, bytes('sb-both', 100)]).toString('base64'))) },
	{ note: 'short SECRET_BLOCK', secret_block: b64('sb-short', 1) },
	{ note: 'single-digit day, midnight', at: '2024-03-05T00:00:00.000Z' },
	{ note: 'leap day', at: '2024-02-29T23:59:59.999Z' },
	{ note: 'year 2000', at: '2000-02-01T03:04:05Z' },
	// Cases also re-run through pycognito by pycognito_kat.py (it only takes non-negative B
	// and salts without redundant leading zeros; see `shared`).
	{ note: 'shared with pycognito: typical', shared: true },
	{ note: 'shared with pycognito: odd B, odd salt, unicode password', srp_b: '7' + hex('sh-b', 383), salt: hex('sh-s', 16).slice(1).replace(/^0/, '9'), password: 'Grüße 🌍', shared: true },
	{ note: 'shared with pycognito: B > N, 32-byte a', srp_b: N.add(new BigInteger('1' + '0'.repeat(25), 16)).toString(16), a: hex('sh-a', 32), shared: true },
	{ note: 'shared with pycognito: high-bit salt, e-mail id', salt: 'e' + hex('sh-s2', 16).slice(1), user_id_for_srp: 'carol@example.org', shared: true },
];

function defaults(i, c) {
	const tag = `case-${i}`;
	const user_id_for_srp = c.user_id_for_srp ?? UUIDS[i % UUIDS.length];
	return {
		// 128 random bytes as the reference draws them for every third case, else 32 (en-auth's size)
		a: c.a ?? hex(`${tag}-a`, i % 3 === 0 ? 128 : 32),
		pool_id: c.pool_id ?? POOLS[0],
		user_name: c.user_name ?? `user${i}@example.com`,
		challenge_username: c.challenge_username ?? user_id_for_srp,
		user_id_for_srp,
		password: c.password ?? `Corr3ct-Horse!Battery-${i}`,
		srp_b: c.srp_b ?? randModN(`${tag}-b`),
		salt: c.salt ?? hex(`${tag}-salt`, 16),
		secret_block: c.secret_block ?? b64(`${tag}-sb`, 300 + 37 * i),
		at: c.at ?? new Date(dateAt('2025-01-01T00:00:00Z') + i * 86_400_000 * 17 + i * 3_723_000).toISOString(),
	};
}

// ------------------------------------------------------- instrumentation

const RealDate = Date;
function withFixedNow(ms, f) {
	class FixedDate extends RealDate {
		constructor(...args) {
			if (args.length === 0) super(ms);
			else super(...args);
		}
		static now() {
			return ms;
		}
	}
	globalThis.Date = FixedDate;
	try {
		return f();
	} finally {
		globalThis.Date = RealDate;
	}
}

let fixedA = null;
let captured = {};
AuthenticationHelper.prototype.generateRandomSmallA = function () {
	if (fixedA === null) throw new Error('no fixed a');
	return new BigInteger(fixedA, 16);
};
const origCalculateS = AuthenticationHelper.prototype.calculateS;
AuthenticationHelper.prototype.calculateS = function (xValue, serverBValue, callback) {
	captured.x = xValue.toString(16);
	return origCalculateS.call(this, xValue, serverBValue, (err, s) => {
		if (!err) captured.s = s.toString(16);
		callback(err, s);
	});
};
const origKey = AuthenticationHelper.prototype.getPasswordAuthenticationKey;
AuthenticationHelper.prototype.getPasswordAuthenticationKey = function (username, password, b, salt, callback) {
	captured.key_username = username;
	return origKey.call(this, username, password, b, salt, (err, hkdf) => {
		if (!err) {
			captured.u = this.UValue.toString(16);
			captured.key = Buffer.from(hkdf).toString('hex');
		}
		callback(err, hkdf);
	});
};

/** Run the official USER_SRP_AUTH flow once and return what it sent. */
function runFlow(v) {
	fixedA = v.a;
	captured = {};
	const sent = {};
	const fakeClient = {
		request(op, params, cb) {
			if (op === 'InitiateAuth') {
				sent.initiate = params;
				cb(null, {
					ChallengeName: 'PASSWORD_VERIFIER',
					ChallengeParameters: {
						SALT: v.salt,
						SRP_B: v.srp_b,
						SECRET_BLOCK: v.secret_block,
						USER_ID_FOR_SRP: v.user_id_for_srp,
						USERNAME: v.challenge_username,
					},
				});
			} else if (op === 'RespondToAuthChallenge') {
				sent.respond = params;
				cb(new Error('stop: vector recorded'));
			} else {
				cb(new Error(`unexpected ${op}`));
			}
		},
	};
	const pool = new CognitoUserPool({ UserPoolId: v.pool_id, ClientId: 'katclientid0123456789abcd' });
	pool.client = fakeClient;
	const user = new CognitoUser({ Username: v.user_name, Pool: pool });
	const details = new AuthenticationDetails({ Username: v.user_name, Password: v.password });
	let failure = null;
	withFixedNow(RealDate.parse(v.at), () =>
		user.authenticateUser(details, {
			onSuccess: () => {},
			onFailure: e => {
				failure = e;
			},
		})
	);
	if (!sent.respond) throw new Error(`flow did not respond: ${failure}`);
	fixedA = null;
	const r = sent.respond.ChallengeResponses;
	if (r.PASSWORD_CLAIM_SECRET_BLOCK !== v.secret_block) throw new Error('secret block not echoed');
	return {
		srp_a: sent.initiate.AuthParameters.SRP_A,
		initiate_username: sent.initiate.AuthParameters.USERNAME,
		u: captured.u,
		x: captured.x,
		s: captured.s,
		key: captured.key,
		x_username: captured.key_username,
		timestamp: r.TIMESTAMP,
		signature: r.PASSWORD_CLAIM_SIGNATURE,
		response_username: r.USERNAME,
	};
}

// ---------------------------------------------------------------- output

const vectors = CASES.map((c, i) => {
	const v = defaults(i, c);
	const out = runFlow(v);
	if (out.x_username !== v.user_id_for_srp) throw new Error('x not over USER_ID_FOR_SRP?');
	return {
		id: `js-${String(i + 1).padStart(2, '0')}`,
		reference: REFERENCE,
		note: c.note,
		shared: c.shared === true,
		a: v.a,
		pool_id: v.pool_id,
		user_name: v.user_name,
		challenge_username: v.challenge_username,
		user_id_for_srp: v.user_id_for_srp,
		password: v.password,
		srp_b: v.srp_b,
		salt: v.salt,
		secret_block: v.secret_block,
		timestamp: out.timestamp,
		at: v.at,
		srp_a: out.srp_a,
		u: out.u,
		x: out.x,
		s: out.s,
		key: out.key,
		signature: out.signature,
		response_username: out.response_username,
	};
});

// The client's own rejections (the messages are the reference's).
function rejection(srp_b) {
	fixedA = '07';
	const h = new AuthenticationHelper('AbCdEf123');
	fixedA = null;
	try {
		h.getPasswordAuthenticationKey('u', 'p', new BigInteger(srp_b, 16), new BigInteger('ab', 16), () => {});
		return null;
	} catch (e) {
		return e.message;
	}
}
const rejections = ['0', NHEX, '-' + NHEX, N.add(N).toString(16), N.multiply(new BigInteger('1234567', 16)).toString(16)].map(
	srp_b => ({ reference: REFERENCE, srp_b, error: rejection(srp_b) })
);

// padHex: the reference's two's-complement padding, on signed integers.
const padHexCases = ['0', '1', '7f', '80', 'ff', '100', '-1', '-7f', '-80', '-81', '-ff', '-100', '-8000', '-800001', 'abc', '-abc', '0080', '00000001', 'ec', '-ec', '-14', '38', '-c8'];
const pad_hex = padHexCases.map(value => ({ reference: REFERENCE, value, padded: helper0.padHex(new BigInteger(value, 16)).toLowerCase() }));

// DateHelper.getNowString() at fixed instants.
const instants = [];
for (let m = 0; m < 12; m++) {
	// every month; day 1..9 and 10..31 alternate; hours/minutes/seconds with and without padding
	const day = m % 2 === 0 ? 1 + m : m === 11 ? 31 : 10 + 2 * m;
	instants.push(new RealDate(RealDate.UTC(2023, m, day, m, 5 * m, 59 - m)).toISOString());
}
for (let d = 0; d < 7; d++) instants.push(new RealDate(RealDate.UTC(2024, 6, 14 + d, 23, 59, 59, 999)).toISOString());
instants.push('1970-01-01T00:00:00.000Z', '2000-02-01T03:04:05.000Z', '2024-02-29T12:00:00.500Z', '2038-01-19T03:14:08.000Z', '9999-12-31T23:59:59.000Z');
const timestamps = instants.map(at => ({
	reference: REFERENCE,
	at,
	unix_ms: RealDate.parse(at),
	timestamp: withFixedNow(RealDate.parse(at), () => new DateHelper().getNowString()),
}));

process.stdout.write(
	JSON.stringify(
		{
			reference: REFERENCE,
			k: helper0.k.toString(16),
			n: NHEX,
			srp_vectors: vectors,
			rejections,
			pad_hex,
			timestamps,
		},
		null,
		1
	) + '\n'
);
