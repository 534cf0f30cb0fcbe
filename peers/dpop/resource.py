"""A resource server that checks DPoP proofs (RFC 9449) with an implementation independent of
en-auth's: jwcrypto verifies the proof's signature against its `jwk` and computes the key's
thumbprint (RFC 7638); the token is checked by the authorization server's introspection
(RFC 7662), whose `cnf.jkt` must be the proof key's thumbprint.

    INTROSPECTION_URL=http://127.0.0.1:P/token/introspection \
    INTROSPECTION_CLIENT_ID=resource-server INTROSPECTION_CLIENT_SECRET=... \
    PORT=0 peers/.venv/bin/python peers/dpop/resource.py

It prints one line of JSON ({"url": ..., "pid": ...}) once listening, then serves on 127.0.0.1
until killed; it exits when the process that started it does.

Every request (any method, any path but the /_ ones) must carry `Authorization: DPoP <token>`
and one `DPoP` proof: `typ` dpop+jwt, `alg` ES256 or EdDSA, a public `jwk`, a valid signature;
`htm` the method, `htu` this URL without query (http://<Host><path>), `iat` within 60 seconds,
a `jti` never seen, `ath` the token's SHA-256, `nonce` the server's current nonce. Failures:
401 with `WWW-Authenticate: DPoP error="..."` (invalid_token, invalid_dpop_proof, or
use_dpop_nonce with a `DPoP-Nonce` header). Success: 200 with JSON naming the token's client and
the key's thumbprint. Every answer carries the current `DPoP-Nonce`.

The nonce is per first path segment (`/a/...` and `/a/b` share one, `/b/...` has another), so
that tests sharing the server disturb only themselves. Control: POST /_rotate_nonce?prefix=/a/
makes a new nonce for `a`; GET /_stats?prefix=/a/ counts the answers to requests under /a/ by
outcome (both answer with the segment's current DPoP-Nonce).
"""

import base64
import hashlib
import json
import os
import secrets
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from jwcrypto import jwk, jws
from jwcrypto.common import json_decode

INTROSPECTION_URL = os.environ["INTROSPECTION_URL"]
CLIENT = (os.environ["INTROSPECTION_CLIENT_ID"], os.environ["INTROSPECTION_CLIENT_SECRET"])
IAT_WINDOW = 60

lock = threading.Lock()
# One nonce per first path segment (`/stale/...` → "stale"), so that the tests sharing this
# server (one process runs them in parallel) rotate only their own.
nonces = {}
seen_jti = set()
stats = defaultdict(lambda: defaultdict(int))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(path: str) -> str:
    return path.lstrip("/").split("/", 1)[0]


def nonce_for(name: str) -> str:
    with lock:
        return nonces.setdefault(name, secrets.token_urlsafe(16))


def introspect(token: str) -> dict:
    body = urllib.parse.urlencode({"token": token}).encode()
    request = urllib.request.Request(INTROSPECTION_URL, data=body, method="POST")
    basic = base64.b64encode(f"{CLIENT[0]}:{CLIENT[1]}".encode()).decode()
    request.add_header("Authorization", f"Basic {basic}")
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


class Refusal(Exception):
    def __init__(self, error: str, description: str):
        super().__init__(description)
        self.error = error
        self.description = description


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        sys.stderr.write("dpop resource: " + (format % args) + "\n")

    def answer(self, status: int, body: dict, nonce: str, challenge: str | None = None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("DPoP-Nonce", nonce)
        if challenge:
            self.send_header("WWW-Authenticate", challenge)
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)

    def handle_any(self):
        self.read_body()
        url = urllib.parse.urlsplit(self.path)
        prefix = urllib.parse.parse_qs(url.query).get("prefix", ["/"])[0]
        if url.path == "/_rotate_nonce":
            with lock:
                nonces[segment(prefix)] = secrets.token_urlsafe(16)
            return self.answer(200, {"rotated": True}, nonce_for(segment(prefix)))
        if url.path == "/_stats":
            with lock:
                total = defaultdict(int)
                for path, counts in stats.items():
                    if path.startswith(prefix):
                        for outcome, n in counts.items():
                            total[outcome] += n
            return self.answer(200, dict(total), nonce_for(segment(prefix)))
        try:
            result = self.check(url.path)
        except Refusal as refusal:
            with lock:
                stats[url.path][refusal.error] += 1
            nonce = nonce_for(segment(url.path))
            description = refusal.description.replace('"', "'")
            challenge = f'DPoP algs="ES256 EdDSA", error="{refusal.error}", error_description="{description}"'
            body = {"error": refusal.error, "error_description": refusal.description}
            if refusal.error == "use_dpop_nonce":
                body["nonce"] = nonce
            return self.answer(401, body, nonce, challenge)
        with lock:
            stats[url.path]["ok"] += 1
        return self.answer(200, result, nonce_for(segment(url.path)))

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any

    def check(self, path: str) -> dict:
        authorization = self.headers.get("Authorization") or ""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "dpop" or not token:
            raise Refusal("invalid_token", f"a DPoP-bound token is required (got scheme {scheme or 'none'})")
        proofs = self.headers.get_all("DPoP") or []
        if len(proofs) != 1:
            raise Refusal("invalid_dpop_proof", f"exactly one DPoP header is required (got {len(proofs)})")
        proof = proofs[0]
        try:
            header = json_decode(base64.urlsafe_b64decode(proof.split(".")[0] + "=="))
        except Exception:
            raise Refusal("invalid_dpop_proof", "the proof is not a JWS")
        if header.get("typ") != "dpop+jwt":
            raise Refusal("invalid_dpop_proof", "typ is not dpop+jwt")
        if header.get("alg") not in ("ES256", "EdDSA"):
            raise Refusal("invalid_dpop_proof", "unsupported alg")
        public = header.get("jwk")
        if not isinstance(public, dict) or "d" in public:
            raise Refusal("invalid_dpop_proof", "jwk must be a public key")
        key = jwk.JWK(**public)
        token_jws = jws.JWS()
        try:
            token_jws.deserialize(proof)
            token_jws.verify(key, alg=header["alg"])
        except Exception:
            raise Refusal("invalid_dpop_proof", "bad signature")
        claims = json.loads(token_jws.payload)
        if claims.get("htm") != self.command:
            raise Refusal("invalid_dpop_proof", f"htm mismatch: {claims.get('htm')} for {self.command}")
        expected_htu = f"http://{self.headers.get('Host')}{path}"
        if claims.get("htu") != expected_htu:
            raise Refusal("invalid_dpop_proof", f"htu mismatch: {claims.get('htu')} for {expected_htu}")
        iat = claims.get("iat")
        if not isinstance(iat, int) or abs(time.time() - iat) > IAT_WINDOW:
            raise Refusal("invalid_dpop_proof", "iat out of window")
        if claims.get("ath") != b64url(hashlib.sha256(token.encode()).digest()):
            raise Refusal("invalid_dpop_proof", "ath mismatch")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise Refusal("invalid_dpop_proof", "no jti")
        if claims.get("nonce") != nonce_for(segment(path)):
            raise Refusal("use_dpop_nonce", "use the DPoP nonce given")
        with lock:
            if jti in seen_jti:
                raise Refusal("invalid_dpop_proof", "replayed proof (jti seen before)")
            seen_jti.add(jti)
        info = introspect(token)
        if not info.get("active"):
            raise Refusal("invalid_token", "the token is not active")
        thumbprint = key.thumbprint()
        bound = (info.get("cnf") or {}).get("jkt")
        if bound != thumbprint:
            raise Refusal("invalid_token", "the token is not bound to the proof's key (cnf.jkt mismatch)")
        return {"client_id": info.get("client_id"), "jkt": thumbprint, "method": self.command, "path": path}


def watch_parent(parent: int):
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(0)


def main():
    port = int(os.environ.get("PORT") or "0")
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    if os.environ.get("EXIT_WITH_PARENT", "1") != "0":
        threading.Thread(target=watch_parent, args=(os.getppid(),), daemon=True).start()
    host, bound = server.server_address[:2]
    print(json.dumps({"url": f"http://{host}:{bound}", "pid": os.getpid()}), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
