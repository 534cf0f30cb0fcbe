#!/bin/sh
# Regenerate crates/en-auth-srp/tests/vectors/srp_vectors.json (user SRP) and
# device_vectors.json (the remembered-device verifier) from the reference
# SRP clients (never from en-auth's code):
#   amazon-cognito-identity-js (peers/cognito-js, `npm ci`) and pycognito (peers/.venv).
#
#   sh peers/kat/generate.sh        # from anywhere; takes ~30 s (the JS client is slow)
#
# One-liner equivalent, from the repository root:
#   node peers/cognito-js/kat.mjs > /tmp/js.json && peers/.venv/bin/python peers/kat/pycognito_kat.py /tmp/js.json > crates/en-auth-srp/tests/vectors/srp_vectors.json
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp.out"' EXIT
node "$root/peers/cognito-js/kat.mjs" > "$tmp"
"$root/peers/.venv/bin/python" "$root/peers/kat/pycognito_kat.py" "$tmp" > "$tmp.out"
mkdir -p "$root/crates/en-auth-srp/tests/vectors"
mv "$tmp.out" "$root/crates/en-auth-srp/tests/vectors/srp_vectors.json"
echo "wrote crates/en-auth-srp/tests/vectors/srp_vectors.json" >&2
node "$root/peers/cognito-js/device_kat.mjs" > "$tmp"
"$root/peers/.venv/bin/python" "$root/peers/kat/pycognito_device_kat.py" "$tmp" > "$tmp.out"
mv "$tmp.out" "$root/crates/en-auth-srp/tests/vectors/device_vectors.json"
echo "wrote crates/en-auth-srp/tests/vectors/device_vectors.json" >&2
