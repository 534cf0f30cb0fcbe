"""Known-answer vectors for Cognito SRP computed by pycognito (PyPI), never by en-auth.

    peers/.venv/bin/python peers/kat/pycognito_kat.py JS_JSON > srp_vectors.json

JS_JSON is the output of ``node peers/cognito-js/kat.mjs``. This script adds
pycognito's own vectors, re-runs the JS vectors marked ``shared`` through
pycognito (checking that the two references agree, or recording where they
do not), and prints the combined file. ``peers/kat/generate.sh`` does all of it.

Each vector drives the real ``AWSSRP.authenticate_user`` against a fake boto3
client that answers ``initiate_auth`` with a PASSWORD_VERIFIER challenge and
records ``respond_to_auth_challenge``. Patched, and nothing else:

- ``AWSSRP.generate_random_small_a`` returns the fixed ``a`` (reduced mod N as
  the original does);
- the module's ``pow``, ``calculate_u`` and ``compute_hkdf`` are wrapped
  (calling the originals) to record x, S, u and the HKDF key;
- the module's ``datetime`` answers ``utcnow()`` with a fixed instant.
"""

import base64
import datetime as real_datetime
import hashlib
import hmac
import importlib.metadata
import json
import sys
import types

import pycognito.aws_srp as srp

VERSION = importlib.metadata.version("pycognito")
REFERENCE = f"pycognito@{VERSION}"
N = srp.hex_to_long(srp.N_HEX)


# ------------------------------------------------------------------ inputs


def rbytes(label, n):
    """Deterministic bytes: SHA-256(label || counter) blocks (a different label space from JS)."""
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(f"en-auth-kat-py:{label}:{i}".encode()).digest()
        i += 1
    return out[:n]


def rhex(label, n):
    return rbytes(label, n).hex()


def rand_mod_n(label):
    return f"{int(rhex(label, 384), 16) % N:x}"


UUIDS = [
    "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d",
    "3c2b1a09-f8e7-4d6c-b5a4-938271605f4e",
]
POOLS = ["us-west-2_PyCogn1to", "eu-central-1_Q", "us-east-1_AbCdEf123"]

CASES = [
    {"note": "typical: 128-byte a, typed e-mail, challenge USERNAME differs from USER_ID_FOR_SRP",
     "user_name": "Dana@Example.com", "challenge_username": "dana", "user_id_for_srp": UUIDS[0]},
    {"note": "confidential client: SECRET_HASH over the typed name, then over the challenge USERNAME",
     "user_name": "erin@example.com", "challenge_username": "erin", "user_id_for_srp": UUIDS[1],
     "client_secret": "1example23456789abcdefghijklmnopqrstuvwxyz01234567"},
    {"note": "32-byte a", "a": rhex("a32", 32)},
    {"note": "32-byte a with leading zero byte", "a": "00" + rhex("a32lz", 31)},
    {"note": "small a", "a": "0101"},
    {"note": "B of odd hex length", "srp_b": "9" + rhex("b-odd", 383)},
    {"note": "B with leading zero characters", "srp_b": "00" + rand_mod_n("b-lz")},
    {"note": "B in upper case", "srp_b": rand_mod_n("b-uc").upper()},
    {"note": "B > N", "srp_b": f"{N + int(rhex('b-gtN', 64), 16):x}"},
    {"note": "B >= 2^3072", "srp_b": "3" + rhex("b-385", 384)},
    {"note": "small B", "srp_b": "f"},
    {"note": "salt with high bit set", "salt": "9" + rhex("s-hi", 16)[1:]},
    {"note": "salt of odd hex length", "salt": "b" + rhex("s-odd", 15)},
    {"note": "salt in upper case", "salt": "7" + rhex("s-uc", 16)[1:].upper()},
    {"note": "long salt", "salt": rhex("s-long", 48)},
    {"note": "unicode password", "password": "naïve-密码-🙂"},
    {"note": "one-character password", "password": "Z"},
    {"note": "password with colon", "password": "user:pass:word"},
    {"note": "plain user name everywhere", "user_name": "frank", "challenge_username": "frank",
     "user_id_for_srp": "frank"},
    {"note": "e-mail USER_ID_FOR_SRP (username-attributes pool)", "user_name": "grace@example.com",
     "challenge_username": UUIDS[0], "user_id_for_srp": "grace@example.com"},
    {"note": "second pool", "pool_id": POOLS[1]},
    {"note": "third pool, long secret block", "pool_id": POOLS[2], "secret_block_len": 1500},
    {"note": "confidential client, unicode names", "user_name": "zoë", "challenge_username": "zoë",
     "user_id_for_srp": "zoë", "client_secret": "s3cr+t/with=base64+chars"},
]


def defaults(i, c):
    tag = f"case-{i}"
    user_id_for_srp = c.get("user_id_for_srp", UUIDS[i % len(UUIDS)])
    at = real_datetime.datetime(2026, 1 + i % 12, 1 + (7 * i) % 28, i % 24, (11 * i) % 60, (13 * i) % 60,
                                tzinfo=real_datetime.timezone.utc)
    return {
        # 128 random bytes as pycognito draws them for every third case, else 32 (en-auth's size)
        "a": c.get("a", rhex(f"{tag}-a", 128 if i % 3 == 0 else 32)),
        "pool_id": c.get("pool_id", POOLS[0]),
        "user_name": c.get("user_name", f"py-user{i}@example.com"),
        "challenge_username": c.get("challenge_username", user_id_for_srp),
        "user_id_for_srp": user_id_for_srp,
        "password": c.get("password", f"Tr0ub4dor&3-{i}"),
        "srp_b": c.get("srp_b", rand_mod_n(f"{tag}-b")),
        "salt": c.get("salt", rhex(f"{tag}-salt", 16)),
        "secret_block": c.get("secret_block",
                              base64.standard_b64encode(rbytes(f"{tag}-sb", c.get("secret_block_len", 400 + 29 * i))).decode()),
        "at": at.isoformat().replace("+00:00", "Z"),
        "client_secret": c.get("client_secret"),
    }


# ---------------------------------------------------------- instrumentation

_fixed_a = None
_calls = []
_orig_pow = pow
_orig_calculate_u = srp.calculate_u
_orig_compute_hkdf = srp.compute_hkdf


def _generate_random_small_a(self):
    return int(_fixed_a, 16) % self.big_n


def _pow(base, exp, mod=None):
    result = _orig_pow(base, exp, mod)
    _calls.append(("pow", base, exp, result))
    return result


def _calculate_u(big_a, big_b):
    u = _orig_calculate_u(big_a, big_b)
    _calls.append(("u", u))
    return u


def _compute_hkdf(ikm, salt):
    key = _orig_compute_hkdf(ikm, salt)
    _calls.append(("key", key))
    return key


srp.AWSSRP.generate_random_small_a = _generate_random_small_a
srp.pow = _pow  # module global shadows the builtin inside aws_srp
srp.calculate_u = _calculate_u
srp.compute_hkdf = _compute_hkdf


def fixed_datetime_module(at):
    class FixedDatetime(real_datetime.datetime):
        @classmethod
        def utcnow(cls):
            return at.replace(tzinfo=None)

    return types.SimpleNamespace(datetime=FixedDatetime)


def parse_at(at):
    return real_datetime.datetime.fromisoformat(at.replace("Z", "+00:00"))


class FakeBoto:
    def __init__(self, v):
        self.v = v
        self.initiate = None
        self.respond = None

    def initiate_auth(self, AuthFlow, AuthParameters, ClientId):
        assert AuthFlow == "USER_SRP_AUTH"
        self.initiate = AuthParameters
        return {
            "ChallengeName": "PASSWORD_VERIFIER",
            "ChallengeParameters": {
                "SALT": self.v["salt"],
                "SRP_B": self.v["srp_b"],
                "SECRET_BLOCK": self.v["secret_block"],
                "USER_ID_FOR_SRP": self.v["user_id_for_srp"],
                "USERNAME": self.v["challenge_username"],
            },
        }

    def respond_to_auth_challenge(self, ClientId, ChallengeName, ChallengeResponses, **_):
        assert ChallengeName == "PASSWORD_VERIFIER"
        self.respond = ChallengeResponses
        return {"AuthenticationResult": {}}


CLIENT_ID = "pykatclient0123456789abcd"


def run_flow(v):
    global _fixed_a
    _fixed_a = v["a"]
    fake = FakeBoto(v)
    aws = srp.AWSSRP(username=v["user_name"], password=v["password"], pool_id=v["pool_id"],
                     client_id=CLIENT_ID, client=fake, client_secret=v.get("client_secret"))
    _calls.clear()
    srp.datetime = fixed_datetime_module(parse_at(v["at"]))
    try:
        aws.authenticate_user()
    finally:
        srp.datetime = real_datetime
        _fixed_a = None
    pows = [c for c in _calls if c[0] == "pow"]
    # get_password_authentication_key: pow(g, x, N), then pow(B - k g^x, a + u x, N)
    assert len(pows) == 2 and pows[0][1] == 2, pows
    (u,) = [c[1] for c in _calls if c[0] == "u"]
    (key,) = [c[1] for c in _calls if c[0] == "key"]
    r = fake.respond
    assert r["PASSWORD_CLAIM_SECRET_BLOCK"] == v["secret_block"]
    out = {
        "srp_a": fake.initiate["SRP_A"],
        "u": f"{u:x}",
        "x": f"{pows[0][2]:x}",
        "s": f"{pows[1][3]:x}",
        "key": key.hex(),
        "timestamp": r["TIMESTAMP"],
        "signature": r["PASSWORD_CLAIM_SIGNATURE"],
        "response_username": r["USERNAME"],
    }
    if v.get("client_secret") is not None:
        out["initiate_secret_hash"] = fake.initiate["SECRET_HASH"]
        out["respond_secret_hash"] = r["SECRET_HASH"]
    return out


FIELDS = ["a", "pool_id", "user_name", "challenge_username", "user_id_for_srp", "password", "srp_b", "salt",
          "secret_block"]


def vector(vid, note, v, out, shared):
    d = {"id": vid, "reference": REFERENCE, "note": note, "shared": shared}
    d.update({f: v[f] for f in FIELDS})
    d["timestamp"] = out["timestamp"]
    d["at"] = v["at"]
    for f in ["srp_a", "u", "x", "s", "key", "signature", "response_username"]:
        d[f] = out[f]
    return d


# ------------------------------------------------------------------- main


def main():
    js = json.load(open(sys.argv[1], encoding="utf-8"))
    global _fixed_a
    _fixed_a = "07"
    probe = srp.AWSSRP("u", "p", "r_p", "c", client=object())
    _fixed_a = None
    k_hex = f"{probe.val_k:x}"
    assert k_hex == js["k"], "the references disagree on k"
    assert srp.N_HEX.lower() == js["n"]

    vectors = []
    secret_hashes = []
    for i, c in enumerate(CASES):
        v = defaults(i, c)
        out = run_flow(v)
        vectors.append(vector(f"py-{i + 1:02d}", c["note"], v, out, False))
        if v.get("client_secret") is not None:
            pairs = {(v["user_name"], out["initiate_secret_hash"]),
                     (v["challenge_username"], out["respond_secret_hash"])}
            for name, value in sorted(pairs):
                secret_hashes.append({"reference": REFERENCE, "client_id": CLIENT_ID,
                                      "client_secret": v["client_secret"], "user_name": name,
                                      "secret_hash": value})

    # Python's own hmac, straight from the AWS documentation's formula.
    for client_id, secret, user in [("7lyxexampleclientid0123456", "exampleSecret+/=0123456789", "alice"),
                                    ("abc", "", "bob@example.com"),
                                    ("4c1ient", "sécret", "名前")]:
        mac = hmac.new(secret.encode(), (user + client_id).encode(), hashlib.sha256).digest()
        value = base64.b64encode(mac).decode()
        assert value == srp.AWSSRP.get_secret_hash(user, client_id, secret)
        secret_hashes.append({"reference": f"python-hmac / {REFERENCE}", "client_id": client_id,
                              "client_secret": secret, "user_name": user, "secret_hash": value})

    # The JS vectors marked shared, re-run through pycognito.
    divergent = []
    for jv in js["srp_vectors"]:
        if not jv["shared"]:
            continue
        v = {f: jv[f] for f in FIELDS}
        v["at"] = jv["at"]
        out = run_flow(v)
        agree = all(out[f] == jv[f] for f in ["srp_a", "u", "x", "s", "key", "timestamp", "signature"])
        note = f"{jv['note']} (re-run of {jv['id']})"
        if agree:
            vectors.append(vector(f"py-shared-{jv['id']}", note, v, out, True))
        else:
            assert out["srp_a"] == jv["srp_a"] and out["u"] == jv["u"], "unexpected divergence"
            d = vector(f"py-divergent-{jv['id']}", note, v, out, True)
            d["js_id"] = jv["id"]
            d["why"] = ("pycognito pads the SALT string as received (pad_hex of a str keeps redundant "
                        "leading zeros); the JS client, Java and ministack parse it as an integer first")
            divergent.append(d)

    pad_hex = list(js["pad_hex"])
    for value in ["0", "1", "7f", "80", "ff", "100", "abc", "ec", "38"]:
        pad_hex.append({"reference": REFERENCE, "value": value, "padded": srp.pad_hex(int(value, 16))})

    timestamps = list(js["timestamps"])
    for t in js["timestamps"]:
        at = parse_at(t["at"])
        timestamps.append({"reference": REFERENCE, "at": t["at"], "unix_ms": t["unix_ms"],
                           "timestamp": srp.AWSSRP.get_cognito_formatted_timestamp(at)})
        assert timestamps[-1]["timestamp"] == t["timestamp"], "the references disagree on a timestamp"

    combined = {
        "comment": ("Generated by peers/kat/generate.sh from the reference clients "
                    f"({js['reference']}, {REFERENCE}); do not edit by hand."),
        "references": [js["reference"], REFERENCE],
        "n": js["n"],
        "k": js["k"],
        "srp_vectors": js["srp_vectors"] + vectors,
        "pycognito_divergent": divergent,
        "rejections": js["rejections"],
        "pad_hex": pad_hex,
        "timestamps": timestamps,
        "secret_hashes": secret_hashes,
    }
    json.dump(combined, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
