"""Authlib peer for en-auth's integration tests: an OAuth2 token endpoint, on loopback, that
authenticates clients with RFC 7523 §2.2 JWT assertions (private_key_jwt: Authlib's
JWTBearerClientAssertion, with jti replay detection) or client_secret_basic, and issues tokens
for the client-credentials grant and the RFC 7523 §2.1 JWT bearer grant (Authlib's
JWTBearerGrant). An independent second server to oidc-provider.

    peers/.venv/bin/python peers/authlib/server.py

Prints one line of JSON on stdout once listening (issuer, token_endpoint,
introspection_endpoint, clients, key_files), then serves until SIGTERM/SIGINT or until the
process that started it exits. The keys are TEST-ONLY, generated at every start; their private
halves are written to a fresh temporary directory (removed at exit) for the tests to sign with.
"""

import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"  # plain http, on loopback only

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: E402

from authlib.oauth2.rfc6749 import (  # noqa: E402
    AuthorizationServer,
    ClientMixin,
    OAuth2Request,
    grants,
)
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload  # noqa: E402
from authlib.oauth2.rfc6750 import BearerTokenGenerator  # noqa: E402
from authlib.oauth2.rfc6749 import InvalidClientError  # noqa: E402
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion, JWTBearerGrant  # noqa: E402
from joserfc import jwt  # noqa: E402
from joserfc.errors import JoseError  # noqa: E402

ALGORITHMS = ["ES256", "RS256", "PS256", "EdDSA"]

HOST = "127.0.0.1"
SCOPE = "api:read"
TOKEN_TTL = int(os.environ.get("TOKEN_TTL_SECONDS", "60"))
JWT_AUTH = JWTBearerClientAssertion.CLIENT_AUTH_METHOD

key_dir = tempfile.mkdtemp(prefix="en-auth-authlib-test-keys-")
key_files = {}


def write_key(name, private_key):
    path = os.path.join(key_dir, name)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
        f.write(pem)
    key_files[name.replace(".", "_").replace("-", "_")] = path
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


ec_public = write_key("ec.pem", ec.generate_private_key(ec.SECP256R1()))
rsa_public = write_key("rsa.pem", rsa.generate_private_key(65537, 2048))
write_key("stranger.pem", ec.generate_private_key(ec.SECP256R1()))


class Client(ClientMixin):
    def __init__(self, client_id, public_key=None, secret=None, methods=(), grant_types=()):
        self.client_id = client_id
        self.public_key = public_key
        self.secret = secret
        self.methods = set(methods)
        self.grant_types = set(grant_types)

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return None

    def get_allowed_scope(self, scope):
        return " ".join(s for s in (scope or "").split() if s == SCOPE)

    def check_redirect_uri(self, redirect_uri):
        return False

    def check_client_secret(self, client_secret):
        return self.secret is not None and secrets.compare_digest(self.secret, client_secret)

    def check_endpoint_auth_method(self, method, endpoint):
        return method in self.methods

    def check_response_type(self, response_type):
        return False

    def check_grant_type(self, grant_type):
        return grant_type in self.grant_types


CLIENT_CREDENTIALS = "client_credentials"
JWT_BEARER = JWTBearerGrant.GRANT_TYPE
CLIENTS = {
    c.client_id: c
    for c in [
        # private_key_jwt with the EC key (ES256) or the RSA key (RS256/PS256): two clients.
        Client("svc-ec", ec_public, methods=[JWT_AUTH], grant_types=[CLIENT_CREDENTIALS, JWT_BEARER]),
        Client("svc-rsa", rsa_public, methods=[JWT_AUTH], grant_types=[CLIENT_CREDENTIALS, JWT_BEARER]),
        # A secret client: a JWT method is not one it may use.
        Client("svc-basic", secret="basic-secret-0123456789", methods=["client_secret_basic"],
               grant_types=[CLIENT_CREDENTIALS]),
        # The resource server, for introspection.
        Client("resource-server", secret="introspector-secret-0123456789",
               methods=["client_secret_basic"]),
    ]
}
TOKENS = {}
SEEN_JTI = set()
LOCK = threading.Lock()


class Server(AuthorizationServer):
    def query_client(self, client_id):
        return CLIENTS.get(client_id)

    def save_token(self, token, request):
        with LOCK:
            TOKENS[token["access_token"]] = {
                "client_id": request.client.get_client_id(),
                "scope": token.get("scope", ""),
                "sub": getattr(request.user, "sub", None) if request.user else None,
                "exp": int(time.time()) + token["expires_in"],
            }

    def send_signal(self, name, *args, **kwargs):
        pass

    def create_oauth2_request(self, request):
        r = OAuth2Request(request["method"], request["uri"], headers=request["headers"])
        r.payload = BasicOAuth2Payload(request["form"])
        r._body = request["form"]  # what `form` reads
        return r

    def handle_response(self, status, body, headers):
        return status, body, headers


class Assertion(JWTBearerClientAssertion):
    def process_assertion_claims(self, assertion, resolve_key):
        # joserfc's default registry leaves out algorithms it does not recommend (PS256 among
        # them): name the ones this server accepts.
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=ALGORITHMS)
        except JoseError as e:
            raise InvalidClientError(description=e.description) from e
        self.verify_claims(token.claims)
        return token.claims

    def get_audiences(self):
        return [token_endpoint, issuer]

    def validate_jti(self, claims, jti):
        with LOCK:
            if jti in SEEN_JTI:
                return False
            SEEN_JTI.add(jti)
            return True

    def resolve_client_public_key(self, client):
        return client.public_key


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", JWT_AUTH]


class User:
    def __init__(self, sub):
        self.sub = sub

    def get_user_id(self):
        return self.sub


class BearerGrant(JWTBearerGrant):
    def get_audiences(self):
        return [token_endpoint, issuer]

    def resolve_issuer_client(self, issuer_claim):
        return CLIENTS.get(issuer_claim)

    def resolve_client_public_key(self, client):
        return client.public_key

    def authenticate_user(self, subject):
        return User(subject)

    def has_granted_permission(self, client, user):
        return True


server = Server()
server.register_token_generator(
    "default", BearerTokenGenerator(lambda *a, **k: secrets.token_urlsafe(32), expires_generator=lambda *a: TOKEN_TTL)
)
server.register_client_auth_method(JWT_AUTH, Assertion())
server.register_grant(ClientCredentialsGrant)
server.register_grant(BearerGrant)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        sys.stderr.write("authlib peer: " + (fmt % args) + "\n")

    def reply(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        form = dict(parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True))
        if self.path == "/introspect":
            return self.introspect(form)
        if self.path != "/token":
            return self.reply(404, {"error": "not_found"})
        request = {
            "method": "POST",
            "uri": f"{issuer}{self.path}",
            "headers": {k: v for k, v in self.headers.items()},
            "form": form,
        }
        status, body, headers = server.create_token_response(request)
        self.reply(status, body, headers)

    def introspect(self, form):
        import base64

        auth = self.headers.get("Authorization", "")
        try:
            client_id, secret = base64.b64decode(auth.removeprefix("Basic ")).decode().split(":", 1)
        except Exception:  # noqa: BLE001
            return self.reply(401, {"error": "invalid_client"})
        client = CLIENTS.get(client_id)
        if not client or not client.check_client_secret(secret):
            return self.reply(401, {"error": "invalid_client"})
        with LOCK:
            info = TOKENS.get(form.get("token", ""))
        if not info or info["exp"] <= time.time():
            return self.reply(200, {"active": False})
        self.reply(200, {"active": True, **info})


httpd = ThreadingHTTPServer((HOST, int(os.environ.get("PORT", "0"))), Handler)
issuer = f"http://{HOST}:{httpd.server_address[1]}"
token_endpoint = f"{issuer}/token"


def shutdown(*_):
    shutil.rmtree(key_dir, ignore_errors=True)
    threading.Thread(target=httpd.shutdown, daemon=True).start()


signal.signal(signal.SIGTERM, shutdown)
signal.signal(signal.SIGINT, shutdown)
parent = os.getppid()


def watch_parent():
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            shutdown()
            return


if os.environ.get("EXIT_WITH_PARENT", "1") != "0" and parent != 1:
    threading.Thread(target=watch_parent, daemon=True).start()

print(
    json.dumps(
        {
            "issuer": issuer,
            "token_endpoint": token_endpoint,
            "introspection_endpoint": f"{issuer}/introspect",
            "scope": SCOPE,
            "clients": {
                "ec": {"id": "svc-ec"},
                "rsa": {"id": "svc-rsa"},
                "basic": {"id": "svc-basic", "secret": "basic-secret-0123456789"},
                "introspector": {"id": "resource-server", "secret": "introspector-secret-0123456789"},
            },
            "key_files": key_files,
            "token_ttl_seconds": TOKEN_TTL,
            "pid": os.getpid(),
        }
    ),
    flush=True,
)
try:
    httpd.serve_forever()
finally:
    shutil.rmtree(key_dir, ignore_errors=True)
