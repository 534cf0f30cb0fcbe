#!/usr/bin/env python3
"""Writes the hand-made seed inputs of each fuzz target into fuzz/corpus/<target>/ (file names
`seed-*`). Run once before the first fuzzing session; `cargo fuzz cmin` then keeps the seeds
that add coverage. Deterministic: no randomness, so re-running rewrites the same files."""

import base64
import hashlib
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

N = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C"
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
    16,
)


def det_bytes(label, n):
    """n deterministic pseudo-random bytes."""
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(f"{label}/{i}".encode()).digest()
        i += 1
    return out[:n]


def write(target, seeds):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for i, s in enumerate(seeds):
        if isinstance(s, str):
            s = s.encode()
        with open(os.path.join(d, f"seed-{i:03d}"), "wb") as f:
            f.write(s)


def token_response():
    jwt = (
        "eyJraWQiOiJrMSIsImFsZyI6IlJTMjU2In0.eyJzdWIiOiJjbGllbnQiLCJ0b2tlbl91c2UiOiJhY2Nlc3MiLCJzY29wZSI6ImFwaS9yZWFkIn0."
        + base64.urlsafe_b64encode(det_bytes("sig", 64)).decode().rstrip("=")
    )
    s = [
        f'{{"access_token":"{jwt}","expires_in":3600,"token_type":"Bearer"}}',
        '{"access_token":"abc","token_type":"bearer","expires_in":"3600"}',
        '{"access_token":"abc","token_type":"BEARER","expires_in":" 60 ","scope":"api/read api/write"}',
        '{"access_token":"abc","expires_in":59.9}',
        '{"access_token":"abc","expires_in":"12.5"}',
        '{"access_token":"abc","expires_in":null}',
        '{"access_token":"abc"}',
        '{"access_token":"abc","expires_in":-5}',
        '{"access_token":"abc","expires_in":0}',
        '{"access_token":"abc","expires_in":1e300}',
        '{"access_token":"abc","expires_in":18446744073709551615}',
        '{"access_token":"abc","expires_in":-9223372036854775808}',
        '{"access_token":"abc","expires_in":"-1e400"}',
        '{"access_token":"abc","expires_in":"NaN"}',
        '{"access_token":"abc","expires_in":"inf"}',
        '{"access_token":"abc","expires_in":true}',
        '{"access_token":"abc","expires_in":[3600]}',
        '{"access_token":"abc","expires_in":{"s":1}}',
        '{"access_token":"abc","token_type":"mac"}',
        '{"access_token":"abc","token_type":null}',
        '{"access_token":"abc","token_type":" Bearer "}',
        '{"access_token":"abc","token_type":7}',
        '{"access_token":"","token_type":"Bearer"}',
        '{"access_token":null}',
        '{"access_token":42}',
        '{"token_type":"Bearer","expires_in":3600}',
        '{"error":"invalid_client","error_description":"bad secret"}',
        '{"error":"invalid_scope"}',
        '{"access_token":"abc","error":"invalid_scope","error_description":null}',
        '{"error":null,"access_token":"abc"}',
        '{"error":{"code":1},"access_token":"abc"}',
        '{"access_token":"abc","refresh_token":"r","id_token":"i","scope":"x y"}',
        '{"access_token":"abc","refresh_token":null,"id_token":{"a":1},"scope":["x"]}',
        '{"access_token":"abc","access_token":"def"}',
        '{"access_token":"a\\u0000b\\ud83d\\ude00"}',
        '{"access_token":"abc","unknown":[1,2,{"x":null}],"n":1e999}',
        '[{"access_token":"abc"}]',
        "[]",
        "null",
        '"access_token"',
        "3600",
        '{"access_token":"abc","expires_in":36',
        '{"access_token":"ab',
        "",
        "   ",
        '\ufeff{"access_token":"abc"}',
        '{"access_token":"abc"} trailing',
        "<html><body>Bad gateway</body></html>",
        '{"access_token":"abc","expires_in":' + "9" * 40 + "}",
        "[" * 200 + "]" * 200,
        '{"a":' * 130 + "1" + "}" * 130,
        # Lenient answers: a byte-order mark, form-encoded tokens and errors (GitHub), scope as
        # a JSON array; and what must stay refused (a repeated or undecodable parameter, HTML
        # with a token-looking link).
        '\ufeff{"access_token":"tok-123","token_type":"bearer","expires_in":3600}',
        "access_token=tok-123&token_type=bearer&expires_in=3600&scope=",
        "access_token=a%2Bb%2F%3D&token_type=Bearer&expires_in=60&scope=repo+user%3Aemail\n",
        '{"access_token":"tok-123","token_type":"bearer","expires_in":3600,"scope":["openid","user:read:email"]}',
        '{"access_token":"abc","scope":[]}',
        "error=invalid_client&error_description=Client+authentication+failed",
        '\ufeff{"error":"invalid_scope","error_description":"no"}',
        "access_token=a&access_token=b",
        "access_token=%FF&expires_in=%33%36%30%30",
        '<html><a href="/login?next=%2F&access_token=abc">go</a></html>',
    ]
    write("token_response", s)


def environment():
    s = [
        "dev\n[dev]\ntoken_url = \"https://example.auth.us-east-1.amazoncognito.com/oauth2/token\"\n"
        "region = \"us-east-1\"\nuser_pool_id = \"us-east-1_Example\"\nscopes = [\"api/read\"]\n"
        "token_endpoint_auth_method = \"client_secret_post\"\nrefresh_token_rotation = true\n"
        "[dev.extra_params]\naudience = \"https://api.example.com\"\n",
        "local\n[local]\ntoken_url = \"http://127.0.0.1:8080/token\"\ncognito_endpoint = \"http://localhost:9229\"\n",
        "v6\n[v6]\ntoken_url = \"http://[::1]:8080/token\"\n",
        "v4\n[v4]\ntoken_url = \"http://127.255.0.1/token\"\ncognito_endpoint = \"http://LOCALHOST./\"\n",
        "bad\n[bad]\ntoken_url = \"http://auth.example.com/token\"\n",
        "bad\n[bad]\ntoken_url = \"ftp://auth.example.com/token\"\n",
        "bad\n[bad]\ntoken_url = \"not a url\"\n",
        "bad\n[bad]\ntoken_url = \"http://0x7f.1/token\"\n",
        "bad\n[bad]\ntoken_url = \"http://[::ffff:127.0.0.1]/token\"\n",
        "bad\n[bad]\ntoken_url = \"http://localhost.example.com/token\"\n",
        "bad\n[bad]\ntoken_url = \"https://user:pass@host:99999/\"\n",
        "bad\n[bad]\ntoken_url = 5\n",
        "bad\n[bad]\nunknown_field = 1\n",
        "bad\n[bad]\ntoken_endpoint_auth_method = \"private_key_jwt\"\n",
        "bad\n[bad]\nscopes = \"api/read\"\n",
        "bad\n[bad]\nextra_params = { a = 1 }\n",
        "other\n[dev]\nregion = \"eu-west-1\"\n[prod]\nregion = \"us-east-1\"\n",
        "dev\ndev = 5\n",
        "dev\ndev = []\n",
        "dev\n[dev\n",
        "dev\n[dev]\n[dev]\n",
        "\n[\"\"]\n",
        "a.b\n[\"a.b\"]\nregion = \"x\"\n",
        "a\n[a.b]\nregion = \"x\"\n",
        "dev\n[dev]\n",
        "dev\n",
        "dev",
        "",
        "dev\n[dev]\ntoken_url = \"\"\"https://example.com/\"\"\"\nregion = '''x'''\n",
        "dev\n[dev]\nuser_pool_id = \"_\"\nregion = \"\\u00e9\"\n",
        "d\u00e9v\n[\"d\u00e9v\"]\ntoken_url = \"https://\u00e9xample.com/\"\n",
        "dev\n[dev]\ntoken_url = \"https://xn--nxasmq6b.example/token\"\n",
        "dev\n[dev]\r\ntoken_url = \"https://a/\"\r\n",
    ]
    write("environment", s)


def hexs(v):
    return format(v, "x")


def challenge_parameters():
    b = pow(2, int.from_bytes(det_bytes("b", 32), "big"), N)
    b = (b + 3 * pow(2, 0x1234, N)) % N
    salt = det_bytes("salt", 16).hex()
    block = base64.b64encode(det_bytes("block", 1100)).decode()
    block_url = base64.urlsafe_b64encode(det_bytes("block2", 301)).decode().rstrip("=")
    ts = "Tue Feb 1 03:04:05 UTC 2000"

    def c(srp_b=None, salt_=None, pool="us-east-1_AbCdEf123", user="f6a5d1e2-7b1c-4f0e-9a3b-2c4d5e6f7a8b",
          pw="correct horse battery staple", t=ts, blk=None):
        return "\n".join([
            hexs(b) if srp_b is None else srp_b,
            salt if salt_ is None else salt_,
            pool, user, pw, t,
            block if blk is None else blk,
        ])

    s = [
        c(),
        c(blk=block_url),
        c(blk=block.rstrip("=")),
        c(blk=block + "="),
        c(blk="+/8="),
        c(blk="-_8"),
        c(blk="a b"),
        c(blk="QQ"),
        c(blk="QQ="),
        c(blk="Q"),
        c(blk="===="),
        c(blk=""),
        c(srp_b=hexs(b).upper()),
        c(srp_b="000" + hexs(b)),
        c(srp_b="-" + hexs(b)),
        c(srp_b=hexs(N)),
        c(srp_b=hexs(2 * N)),
        c(srp_b="-" + hexs(N)),
        c(srp_b=hexs(N + 1)),
        c(srp_b=hexs(N - 1)),
        c(srp_b="0"),
        c(srp_b="-0"),
        c(srp_b="1"),
        c(srp_b="abc"),
        c(srp_b=hexs(b * (1 << 4000) + 7)),
        c(srp_b="0x" + hexs(b)),
        c(srp_b=""),
        c(srp_b="-"),
        c(srp_b="--1"),
        c(srp_b="+1"),
        c(srp_b=" 1"),
        c(srp_b="g"),
        c(salt_="-" + salt),
        c(salt_="8" + salt),
        c(salt_="0"),
        c(salt_="f" * 513),
        c(salt_="zz"),
        c(salt_=""),
        c(pool="us-east-1"),
        c(pool="_abc"),
        c(pool="us-east-1_"),
        c(pool="a_b_c"),
        c(pool="\u00e9_\u00e9"),
        c(user=""),
        c(pw=""),
        c(t=""),
        c(user="\u00fcser\u0000"),
        hexs(b),
        "",
    ]
    write("challenge_parameters", s)


def srp_math():
    u = hashlib.sha256(b"u").hexdigest()
    x = hashlib.sha256(b"x").hexdigest()
    b = hexs(pow(2, 0xdeadbeef, N))
    a32 = det_bytes("a", 32)
    s_val = hexs(pow(3, 0x12345, N))
    s = [
        # 0 pad_hex
        "080", "0-80", "0-81", "0-100", "0-8000", "0-800001", "0000abc", "0-abc", "0ABC", "00",
        "0-0", "07f", "0", "0-", "00x12", "0+1", "0 1", "0g", "0--1", "01-2",
        "0" + "f" * 800, "0-" + "8" + "0" * 767,
        # 1 compute_u
        "1" + hexs(pow(2, 77, N)) + "\n" + b,
        "1-1\n-80",
        "1abc\n",
        "1\nabc",
        "10\n0",
        # 2 compute_x
        "2us-east-1_AbC\nuser\npassword\n" + det_bytes("salt", 16).hex(),
        "2us-east-1_AbC\n\n\n-80",
        "2us-east-1\nuser\npassword\n00",
        "2a_b_c\nuser\npassword\nzz",
        # 3 compute_s
        b"3" + a32 + b"\n" + f"{b}\n{u}\n{x}".encode(),
        b"3\x01\n2\n1\n0",
        b"3\x00\x00\n2\n1\n1",
        b"3" + bytes.fromhex(hexs(N)) + b"\n2\n1\n1",
        b"3" + bytes.fromhex(hexs(N - 1)) + b"\n2\n1\n1",
        b"3" + a32 + b"\n" + hexs(N).encode() + b"\n1\n1",
        b"3" + a32 + b"\n-" + hexs(N - 1).encode() + b"\n" + u.encode() + b"\n" + x.encode(),
        b"3" + a32 + b"\n" + b.encode() + b"\n0\n" + x.encode(),
        b"3" + a32 + b"\n" + b.encode() + b"\n-1\n" + x.encode(),
        b"3" + a32 + b"\n" + b.encode() + b"\n" + b"f" * 768 + b"\n" + b"f" * 768,
        b"3" + a32 + b"\n" + b.encode() + b"\n" + b"1" + b"0" * 768 + b"\n1",
        # 4 derive_key
        f"4{s_val}\n{u}",
        "40\n1",
        f"4{'f' * 768}\n{'f' * 768}",
        f"41{'0' * 768}\n1",
        f"4{s_val}\n0",
        f"4-1\n{u}",
        # 5 timestamp
        b"5" + struct.pack("<qI", 0, 0) + b"\x01",
        b"5" + struct.pack("<qI", 949374245, 999_000_000) + b"\x01",
        b"5" + struct.pack("<qI", -1, 0) + b"\x01",
        b"5" + struct.pack("<qI", 253402300799, 999_999_999) + b"\x01",
        b"5" + struct.pack("<qI", 253402300800, 0) + b"\x01",
        b"5" + struct.pack("<qI", -377705116800, 0) + b"\x01",
        b"5" + struct.pack("<qI", -377705116801, 999_999_999) + b"\x01",
        b"5" + struct.pack("<qI", 2**63 - 1, 999_999_999) + b"\x01",
        b"5" + struct.pack("<qI", -(2**63), 0) + b"\x01",
        b"5" + struct.pack("<qI", 951782400, 0) + b"\x01",  # 2000-02-29
        b"5" + struct.pack("<qI", 123456789012, 5) + b"\x00",
        b"5",
        # 6 secret_hash / pool_name
        "6app-client-id\napp-client-secret\nalice@example.com",
        "6us-east-1_AbC\n\n",
        "6\n\n",
        # 7 sign / multiplier_k
        b"7" + det_bytes("key", 16) + b"\nus-east-1_AbC\nuser\n" + base64.b64encode(det_bytes("blk", 64)) + b"\nTue Feb 1 03:04:05 UTC 2000",
        b"7k\nus-east-1_AbC\nuser\n-_8\nts",
        b"7k\nus-east-1_AbC\nuser\n\nts",
        b"7k\nus-east-1AbC\nuser\nQQ===\nts",
    ]
    write("srp_math", s)


if __name__ == "__main__":
    token_response()
    environment()
    challenge_parameters()
    srp_math()
