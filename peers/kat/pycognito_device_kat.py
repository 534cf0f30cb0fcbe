"""Known-answer vectors for Cognito's remembered-device verifier, from pycognito (pinned in
peers/requirements.txt), never from en-auth, appended to the official JS client's.

    node peers/cognito-js/device_kat.mjs > /tmp/js-devices.json
    peers/.venv/bin/python peers/kat/pycognito_device_kat.py /tmp/js-devices.json \
        > crates/en-auth-srp/tests/vectors/device_vectors.json

Each vector is one real `pycognito.aws_srp.generate_hash_device(DeviceGroupKey, DeviceKey)`
call (its random device password and salt are pycognito's own, nothing patched), recorded with
the DeviceSecretVerifierConfig it returns for ConfirmDevice.
"""

import json
import sys
from importlib.metadata import version

from pycognito.aws_srp import generate_hash_device

DEVICES = [
    ("-4ISQOXvq5", "us-east-1_1b7d4c2e-9f0a-4e3b-8c6d-5a2f1e0d9c8b"),
    ("-DmQ1sQ8Yp", "eu-west-2_f0e1d2c3-b4a5-4968-8776-655443322110"),
    ("-abcdEFGHi", "ap-southeast-2_00000000-0000-4000-8000-000000000000"),
    ("-Zz9", "us-west-2_7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"),
]
ROUNDS = 4


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        vectors = json.load(f)
    reference = f"pycognito@{version('pycognito')}"
    for group_key, device_key in DEVICES:
        for _ in range(ROUNDS):
            password, config = generate_hash_device(group_key, device_key)
            vectors.append(
                {
                    "reference": reference,
                    "device_group_key": group_key,
                    "device_key": device_key,
                    "device_password": password,
                    "salt": config["Salt"],
                    "password_verifier": config["PasswordVerifier"],
                }
            )
    json.dump(vectors, sys.stdout, indent="\t")
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
