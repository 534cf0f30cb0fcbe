#!/usr/bin/env python3
"""Start django-oauth-toolkit (DOT) as an OAuth2 authorization server for en-auth's tests.

Run with the peers venv's interpreter:

    peers/.venv/bin/python peers/dot/start.py

Environment:
    PORT                port to serve on, on 127.0.0.1 only; 0 or unset picks a free one
    TOKEN_TTL_SECONDS   access-token lifetime in seconds (ACCESS_TOKEN_EXPIRE_SECONDS,
                        default 5)
    EXIT_WITH_PARENT    1 (default): shut down when the process that started this one dies;
                        0: keep running (for starting it detached by hand)

It configures the Django project in dot_settings.py and dot_urls.py (beside this file) with
a sqlite database in a private temp dir, runs the migrations, creates three confidential
client-credentials applications, serves Django's ASGI application with Hypercorn on
127.0.0.1, checks that the token endpoint answers, prints ONE line of JSON on stdout
(everything else goes to stderr), and then stays in the foreground until SIGTERM/SIGINT or
until its parent dies, when it stops the server, deletes the temp dir and exits 0.
"""

import asyncio
import json
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))

SCOPES = ["read", "write"]
DEFAULT_SCOPE = "read"
# (name in the JSON, client id, plain secret). DOT stores secrets hashed
# (Application.hash_client_secret defaults to True), so the plain ones are kept here.
CLIENTS = [
    # Every character that form-encoding (RFC 6749 §2.3.1) must escape in Basic credentials,
    # and a space: sent raw, "+" would read as a space and "%21" as "!".
    ("basic", "svc-basic", "s3cr+t/with=odd:chars%21! and space"),
    ("post", "svc-post", "post-secret-0123456789"),
    # The resource server. DOT 3.4.1's /o/introspect/ (IntrospectTokenView, a
    # ClientProtectedScopedResourceView) lets in any request whose *client* authenticates
    # (Basic or body credentials of any confidential application, no scope needed), or
    # else a Bearer token carrying the `introspection` scope. This peer uses the first.
    ("introspector", "resource-server", "introspector-secret-0123456789"),
]


def log(*args):
    print("[dot-peer]", *args, file=sys.stderr, flush=True)


def listen(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))  # port 0: the kernel picks a free one, no race
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def setup_django(workdir: str, ttl: int) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "dot_settings"
    os.environ["DOT_DATABASE"] = os.path.join(workdir, "db.sqlite3")
    os.environ["TOKEN_TTL_SECONDS"] = str(ttl)
    sys.dont_write_bytecode = True  # no __pycache__ beside the project files in the repo
    sys.path.insert(0, HERE)
    import django
    from django.core.management import call_command
    from django.db import connections

    django.setup()
    call_command("migrate", interactive=False, verbosity=0, skip_checks=True, stdout=sys.stderr)
    from oauth2_provider.models import get_application_model

    Application = get_application_model()
    for _, client_id, secret in CLIENTS:
        Application.objects.create(
            name=client_id,
            client_id=client_id,
            client_secret=secret,  # hashed on save
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
        )
    stored = Application.objects.get(client_id=CLIENTS[0][1]).client_secret
    if stored == CLIENTS[0][2] or not stored.startswith("pbkdf2_sha256$"):
        raise RuntimeError("DOT did not hash the client secret")
    connections.close_all()  # requests run on another thread, with their own connections


def check_token_endpoint(url: str) -> None:
    """A grant-less POST must get DOT's OAuth2 error: the whole stack answers."""
    request = urllib.request.Request(
        url, data=b"", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read()
    if status != 400 or b"error" not in body:
        raise RuntimeError(f"token endpoint self-check: HTTP {status} {body[:200]!r}")


async def serve(sock: socket.socket, info: dict, parent, t0: float) -> int:
    from django.core.asgi import get_asgi_application
    from hypercorn.asyncio import serve as hypercorn_serve
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"fd://{sock.fileno()}"]
    access = logging.getLogger("hypercorn.access")
    access.addHandler(logging.StreamHandler(sys.stderr))  # "-" would mean stdout
    access.setLevel(logging.INFO)
    access.propagate = False
    config.accesslog = access
    config.errorlog = "-"  # stderr
    config.graceful_timeout = 1.0

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    server = asyncio.create_task(
        hypercorn_serve(get_asgi_application(), config, shutdown_trigger=stop.wait)
    )

    try:
        await loop.run_in_executor(None, check_token_endpoint, info["token_endpoint"])
    except Exception:
        stop.set()
        await asyncio.wait([server], timeout=5)
        raise
    sys.stdout.write(json.dumps(info) + "\n")
    sys.stdout.flush()
    log(f"ready on {info['endpoint']} after {time.monotonic() - t0:.2f} s")

    while not stop.is_set():
        done, _ = await asyncio.wait([server], timeout=0.5)
        if done and not stop.is_set():
            server.result()  # raises what stopped it
            log("the server stopped unexpectedly")
            return 1
        if parent is not None and os.getppid() != parent:
            log("parent process died; shutting down")
            stop.set()
    await asyncio.wait([server], timeout=5)
    log("stopped")
    return 0


def main() -> int:
    t0 = time.monotonic()
    parent = os.getppid() if os.environ.get("EXIT_WITH_PARENT", "1") != "0" else None
    if parent == 1:
        parent = None  # started detached: nothing to watch
    port = int(os.environ.get("PORT") or "0")
    ttl = int(os.environ.get("TOKEN_TTL_SECONDS") or "5")
    if ttl <= 0:
        log("TOKEN_TTL_SECONDS must be positive")
        return 2
    try:
        import django
        import hypercorn  # noqa: F401
        import oauth2_provider
    except ImportError as exc:
        log(f"{exc}: install the peers with `cargo xtask peers install`")
        return 1
    # Until the server's loop takes over the signals: unwind, so the temp dir is deleted.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    workdir = tempfile.mkdtemp(prefix="en-auth-dot-")
    try:
        sock = listen(port)
        endpoint = f"http://127.0.0.1:{sock.getsockname()[1]}"
        setup_django(workdir, ttl)
        info = {
            "endpoint": endpoint,
            "token_endpoint": f"{endpoint}/o/token/",
            "introspection_endpoint": f"{endpoint}/o/introspect/",
            "revocation_endpoint": f"{endpoint}/o/revoke_token/",
            "scope": DEFAULT_SCOPE,
            "scopes": " ".join(SCOPES),
            "clients": {
                name: {"id": client_id, "secret": secret} for name, client_id, secret in CLIENTS
            },
            "token_ttl_seconds": ttl,
            "versions": {
                "django-oauth-toolkit": oauth2_provider.__version__,
                "django": django.get_version(),
            },
            "pid": os.getpid(),
        }
        return asyncio.run(serve(sock, info, parent, t0))
    except Exception as exc:
        log(f"failed: {exc!r}")
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
