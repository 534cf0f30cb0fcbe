// Known-answer vectors for Cognito's remembered-device verifier (ConfirmDevice's
// DeviceSecretVerifierConfig), computed by the official AWS JS client
// (amazon-cognito-identity-js, pinned in package-lock.json), never by en-auth.
//
//   node peers/cognito-js/device_kat.mjs > /tmp/js-devices.json
//
// (peers/kat/generate.sh runs this, then pycognito, and writes the combined
// crates/en-auth-srp/tests/vectors/device_vectors.json.)
//
// Each vector is one real `AuthenticationHelper.generateHashDevice(DeviceGroupKey, DeviceKey)`
// call, as `CognitoUser.authenticateUserInternal` makes it after a login that returned
// NewDeviceMetadata: its random device password and salt are the client's own (nothing is
// patched), recorded with the verifier, and Salt and PasswordVerifier encoded exactly as the
// client sends them to ConfirmDevice (base64 of the padded hex).

import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const lib = 'amazon-cognito-identity-js/lib/';
const AuthenticationHelper = require(`${lib}AuthenticationHelper.js`).default;
const VERSION = require('amazon-cognito-identity-js/package.json').version;

// Device keys are `<region>_<uuid>`; device group keys are opaque short strings.
const DEVICES = [
	['-4ISQOXvq5', 'us-east-1_1b7d4c2e-9f0a-4e3b-8c6d-5a2f1e0d9c8b'],
	['-DmQ1sQ8Yp', 'eu-west-2_f0e1d2c3-b4a5-4968-8776-655443322110'],
	['-abcdEFGHi', 'ap-southeast-2_00000000-0000-4000-8000-000000000000'],
	['-Zz9', 'us-west-2_7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d'],
];
const ROUNDS = 4;

const toBase64 = hex => Buffer.from(hex, 'hex').toString('base64');

const vectors = [];
for (const [groupKey, deviceKey] of DEVICES) {
	for (let round = 0; round < ROUNDS; round++) {
		const helper = new AuthenticationHelper(groupKey);
		await new Promise((resolve, reject) =>
			helper.generateHashDevice(groupKey, deviceKey, err => (err ? reject(err) : resolve())),
		);
		vectors.push({
			reference: `amazon-cognito-identity-js@${VERSION}`,
			device_group_key: groupKey,
			device_key: deviceKey,
			device_password: helper.getRandomPassword(),
			salt: toBase64(helper.getSaltDevices()),
			password_verifier: toBase64(helper.getVerifierDevices()),
		});
	}
}
process.stdout.write(JSON.stringify(vectors, null, '\t') + '\n');
