// Logs in to a Cognito user pool (or the en-auth testkit's emulator) with the official client,
// amazon-cognito-identity-js (CognitoUser.authenticateUser, USER_SRP_AUTH), and prints ONE line
// of JSON on stdout:
//
//   {"ok":true,"username":"<cognito:username>","access_token_use":"access","expires_in":...}
//   {"ok":false,"code":"NotAuthorizedException","message":"Incorrect username or password."}
//   {"ok":false,"challenge":"SOFTWARE_TOKEN_MFA","parameters":{...}}   (a challenge it can't answer)
//
// and exits 0 either way; a non-zero exit means the script itself crashed.
//
// Env: ENDPOINT (e.g. http://127.0.0.1:4567; unset = the real AWS endpoint of the pool's region),
// POOL_ID, CLIENT_ID, USERNAME, PASSWORD; optional CLIENT_SECRET (refused: this client cannot
// compute SECRET_HASH, use a public app client), MFA_CODE (answers SMS_MFA / SOFTWARE_TOKEN_MFA),
// NEW_PASSWORD (answers NEW_PASSWORD_REQUIRED), CUSTOM_ANSWER (answers CUSTOM_CHALLENGE; several
// answers separated by commas answer the rounds in turn, the last one repeated),
// AUTH_FLOW (USER_SRP_AUTH, the default; CUSTOM_WITH_SRP: CUSTOM_AUTH through authenticateUser,
// which sends CHALLENGE_NAME=SRP_A and answers PASSWORD_VERIFIER; CUSTOM_WITHOUT_SRP:
// CUSTOM_AUTH through initiateAuth, no password; the line then has "custom_rounds"),
// ROUNDS (log in that many times, each with a new CognitoUser of the same pool: with device
// tracking, the client confirms the device after the first login and proves it in the later
// ones; the line is then {"ok":<all ok>,"rounds":[<each login's object>]}, each with
// "mfa_asked").
//
// The package is CommonJS (lib/index.js); it needs a global `fetch` (Node >= 18 has one, which
// its isomorphic-unfetch shim picks up) and `crypto.getRandomValues` (global in Node >= 19).

import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

function emit(result) {
	process.stdout.write(`${JSON.stringify(result)}\n`);
}

function env(name, required = true) {
	const value = process.env[name];
	if (required && (value === undefined || value === '')) {
		throw new Error(`environment variable ${name} is required`);
	}
	return value === '' ? undefined : value;
}

function decodePayload(jwt) {
	try {
		return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
	} catch {
		return {};
	}
}

async function main() {
	const {
		AuthenticationDetails,
		CognitoUser,
		CognitoUserPool,
	} = require('amazon-cognito-identity-js');

	const endpoint = env('ENDPOINT', false);
	const poolId = env('POOL_ID');
	const clientId = env('CLIENT_ID');
	const username = env('USERNAME');
	const password = env('PASSWORD');
	const mfaCode = env('MFA_CODE', false);
	const newPassword = env('NEW_PASSWORD', false);
	const customAnswers = env('CUSTOM_ANSWER', false)?.split(',');
	const authFlow = env('AUTH_FLOW', false) ?? 'USER_SRP_AUTH';

	if (env('CLIENT_SECRET', false) !== undefined) {
		emit({
			ok: false,
			code: 'UnsupportedClientSecret',
			message:
				'amazon-cognito-identity-js cannot send SECRET_HASH: use an app client without a secret',
		});
		return;
	}

	const pool = new CognitoUserPool({
		UserPoolId: poolId,
		ClientId: clientId,
		// The `endpoint` option of CognitoUserPool (Client posts the JSON 1.1 requests there).
		...(endpoint ? { endpoint } : {}),
	});
	const rounds = Number(env('ROUNDS', false) ?? 1);
	const results = [];
	for (let round = 0; round < rounds; round++) {
		results.push(await attempt());
	}
	if (rounds === 1) {
		emit(results[0]);
	} else {
		emit({ ok: results.every(r => r.ok), rounds: results });
	}

	async function attempt() {
	let mfaAsked = false;
	const customRounds = [];
	const user = new CognitoUser({ Username: username, Pool: pool });
	user.setAuthenticationFlowType(authFlow.startsWith('CUSTOM') ? 'CUSTOM_AUTH' : authFlow);
	const details = new AuthenticationDetails({ Username: username, Password: password });

	const result = await new Promise(resolve => {
		const unanswered = (challenge, parameters) =>
			resolve({ ok: false, challenge, parameters: parameters ?? {} });
		const callbacks = {
			onSuccess(session) {
				const access = session.getAccessToken().getJwtToken();
				const id = session.getIdToken().getJwtToken();
				const accessClaims = decodePayload(access);
				const idClaims = decodePayload(id);
				resolve({
					ok: true,
					username: idClaims['cognito:username'] ?? accessClaims.username ?? null,
					sub: accessClaims.sub ?? null,
					access_token_use: accessClaims.token_use ?? null,
					id_token_use: idClaims.token_use ?? null,
					expires_in: accessClaims.exp && accessClaims.iat ? accessClaims.exp - accessClaims.iat : null,
					has_refresh_token: Boolean(session.getRefreshToken().getToken()),
					// What the client used as its user name after InitiateAuth (USER_ID_FOR_SRP).
					user_id_for_srp: user.getUsername(),
					mfa_asked: mfaAsked,
					custom_rounds: customRounds,
				});
			},
			onFailure(err) {
				resolve({
					ok: false,
					code: err && (err.code || err.name) ? err.code || err.name : 'Error',
					message: err && err.message ? String(err.message) : String(err),
				});
			},
			mfaRequired(challengeName, parameters) {
				mfaAsked = true;
				if (mfaCode === undefined) return unanswered(challengeName, parameters);
				return user.sendMFACode(mfaCode, callbacks, 'SMS_MFA');
			},
			totpRequired(challengeName, parameters) {
				mfaAsked = true;
				if (mfaCode === undefined) return unanswered(challengeName, parameters);
				return user.sendMFACode(mfaCode, callbacks, 'SOFTWARE_TOKEN_MFA');
			},
			newPasswordRequired(userAttributes, requiredAttributes) {
				if (newPassword === undefined) {
					return unanswered('NEW_PASSWORD_REQUIRED', { userAttributes, requiredAttributes });
				}
				return user.completeNewPasswordChallenge(newPassword, {}, callbacks);
			},
			customChallenge(parameters) {
				if (customAnswers === undefined) return unanswered('CUSTOM_CHALLENGE', parameters);
				customRounds.push(parameters ?? {});
				const answer = customAnswers[Math.min(customRounds.length, customAnswers.length) - 1];
				return user.sendCustomChallengeAnswer(answer, callbacks);
			},
			selectMFAType(challengeName, parameters) {
				return unanswered(challengeName, parameters);
			},
			mfaSetup(challengeName, parameters) {
				return unanswered(challengeName, parameters);
			},
		};
		if (authFlow === 'CUSTOM_WITHOUT_SRP') {
			user.initiateAuth(details, callbacks);
		} else {
			user.authenticateUser(details, callbacks);
		}
	});
	return result;
	}
}

// A hang (e.g. a server that never answers) is a failure of the run, not an answer.
const timeoutMs = Number(process.env.TIMEOUT_MS ?? 30000);
setTimeout(() => {
	process.stderr.write(`login.mjs: no outcome after ${timeoutMs} ms\n`);
	process.exit(3);
}, timeoutMs).unref();

main().then(
	() => process.exit(0),
	err => {
		process.stderr.write(`login.mjs crashed: ${err && err.stack ? err.stack : err}\n`);
		process.exit(2);
	},
);
