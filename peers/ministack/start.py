#!/usr/bin/env python3
"""Start a ministack Cognito emulator for en-auth's integration tests.

Run with the peers venv's interpreter:

    peers/.venv/bin/python peers/ministack/start.py

Environment:
    PORT                port to serve on, on 127.0.0.1 only; 0 or unset picks a free one
    TOKEN_TTL_SECONDS   access-token validity of the machine-to-machine client, in seconds
                        (default 5; ministack honours any positive value, AWS's floor is 300)
    STARTUP_TIMEOUT     seconds to wait for the health endpoint (default 60)
    EXIT_WITH_PARENT    1 (default): shut down when the process that started this one dies;
                        0: keep running (for starting it detached by hand)

It starts ministack as a child process with only cognito-idp enabled and AUTH=true,
provisions a user pool, a resource server, app clients and a confirmed user through
boto3, prints ONE line of JSON on stdout (everything else goes to stderr), and then
stays in the foreground until SIGTERM/SIGINT, when it stops ministack and exits 0.
If ministack dies, this script exits non-zero; if this script dies, ministack gets
SIGTERM from the kernel (PR_SET_PDEATHSIG); if this script's own parent dies, it
shuts down too.
"""

import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

REGION = "us-east-1"
ADMIN_ACCESS_KEY_ID = "test"  # AUTH=true accepts admin calls from this key id only
ADMIN_SECRET_ACCESS_KEY = "test"  # any value is accepted
RESOURCE_SERVER = "en-auth-api"
SCOPE = f"{RESOURCE_SERVER}/read"
USERNAME = "alice"
EMAIL = "alice@example.com"
PASSWORD = "Corr3ct-Horse!Battery"
NEW_USER = "carol"
NEW_USER_TEMPORARY_PASSWORD = "Temp0rary-Passw0rd!"


def log(*args):
    print("[ministack-peer]", *args, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():
    """In the child, before exec: ask the kernel for SIGTERM when this script dies."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def start_ministack(port: int, workdir: str, log_path: str) -> subprocess.Popen:
    env = dict(os.environ)
    env.update(
        # peers/ministack/custom_auth.py adds `lambda` (the custom auth challenge triggers).
        SERVICES=os.environ.get("MINISTACK_SERVICES", "cognito-idp"),
        BIND_HOST="127.0.0.1",
        GATEWAY_PORT=str(port),
        IOT_MTLS_ENABLED="0",
        AUTH="true",
        PERSIST_STATE="0",
        # Per-run signing keys and pid file, not the shared /tmp/ministack-state.
        STATE_DIR=os.path.join(workdir, "state"),
        TMPDIR=workdir,
        MINISTACK_REGION=REGION,
        PYTHONUNBUFFERED="1",
    )
    log_file = open(log_path, "wb")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "ministack"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
    finally:
        log_file.close()


def wait_healthy(proc: subprocess.Popen, endpoint: str, deadline: float) -> bool:
    url = f"{endpoint}/_ministack/health"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                body = json.loads(resp.read())
                if (body.get("services") or {}).get("cognito-idp") in ("available", "running"):
                    return True
        except (urllib.error.URLError, OSError, ValueError):
            pass
        time.sleep(0.1)
    return False


# Access-token validity of the long-lived SRP client, in seconds.
LONG_LIVED_TOKEN_SECONDS = 600


def provision(endpoint: str, ttl: int) -> dict:
    import boto3

    idp = boto3.client(
        "cognito-idp",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ADMIN_ACCESS_KEY_ID,
        aws_secret_access_key=ADMIN_SECRET_ACCESS_KEY,
    )
    pool = idp.create_user_pool(PoolName="en-auth-test", AliasAttributes=["email"])["UserPool"]
    pool_id = pool["Id"]
    idp.create_resource_server(
        UserPoolId=pool_id,
        Identifier=RESOURCE_SERVER,
        Name="en-auth test API",
        Scopes=[{"ScopeName": "read", "ScopeDescription": "read access"}],
    )
    seconds = {"AccessToken": "seconds", "IdToken": "seconds", "RefreshToken": "days"}

    m2m = idp.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="en-auth-m2m",
        GenerateSecret=True,
        AllowedOAuthFlows=["client_credentials"],
        AllowedOAuthScopes=[SCOPE],
        AllowedOAuthFlowsUserPoolClient=True,
        AccessTokenValidity=ttl,
        TokenValidityUnits=seconds,
    )["UserPoolClient"]

    srp_flows = ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    srp_public = idp.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="en-auth-srp-public",
        GenerateSecret=False,
        ExplicitAuthFlows=srp_flows,
        AccessTokenValidity=ttl,
        IdTokenValidity=ttl,
        TokenValidityUnits=seconds,
    )["UserPoolClient"]
    srp_confidential = idp.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="en-auth-srp-confidential",
        GenerateSecret=True,
        ExplicitAuthFlows=srp_flows,
        AccessTokenValidity=ttl,
        IdTokenValidity=ttl,
        TokenValidityUnits=seconds,
    )["UserPoolClient"]
    # For tests that run whole processes one after another and check that the second one finds
    # the first one's token still valid (the CLI's): a token that lives ten minutes, so a slow
    # machine cannot turn the expected cache hit into a renewal.
    srp_long_lived = idp.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="en-auth-srp-long-lived",
        GenerateSecret=True,
        ExplicitAuthFlows=srp_flows,
        AccessTokenValidity=LONG_LIVED_TOKEN_SECONDS,
        IdTokenValidity=LONG_LIVED_TOKEN_SECONDS,
        TokenValidityUnits=seconds,
    )["UserPoolClient"]
    # Managed login (the hosted sign-in page, the authorization code grant with PKCE): a public
    # client whose one callback URL is a loopback redirect on a port free now, which the test's
    # sign-in listens on (Cognito accepts only a registered callback URL, http only to localhost).
    managed_login_redirect = f"http://localhost:{free_port()}/callback"
    managed_login = idp.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="en-auth-managed-login",
        GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_REFRESH_TOKEN_AUTH"],
        AllowedOAuthFlows=["code"],
        AllowedOAuthScopes=["openid", "email", "aws.cognito.signin.user.admin"],
        AllowedOAuthFlowsUserPoolClient=True,
        SupportedIdentityProviders=["COGNITO"],
        CallbackURLs=[managed_login_redirect],
        AccessTokenValidity=ttl,
        IdTokenValidity=ttl,
        TokenValidityUnits=seconds,
    )["UserPoolClient"]
    no_srp = idp.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="en-auth-no-srp",
        GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]

    idp.admin_create_user(
        UserPoolId=pool_id,
        Username=USERNAME,
        UserAttributes=[
            {"Name": "email", "Value": EMAIL},
            {"Name": "email_verified", "Value": "true"},
        ],
        MessageAction="SUPPRESS",
    )
    idp.admin_set_user_password(
        UserPoolId=pool_id, Username=USERNAME, Password=PASSWORD, Permanent=True
    )
    # A user who must choose a new password at the first login (FORCE_CHANGE_PASSWORD).
    idp.admin_create_user(
        UserPoolId=pool_id,
        Username=NEW_USER,
        TemporaryPassword=NEW_USER_TEMPORARY_PASSWORD,
        MessageAction="SUPPRESS",
    )
    user = idp.admin_get_user(UserPoolId=pool_id, Username=USERNAME)
    if user["UserStatus"] != "CONFIRMED":
        raise RuntimeError(f"user status is {user['UserStatus']}, expected CONFIRMED")

    return {
        "endpoint": endpoint,
        "region": REGION,
        "admin_credentials": {
            "access_key_id": ADMIN_ACCESS_KEY_ID,
            "secret_access_key": ADMIN_SECRET_ACCESS_KEY,
        },
        "user_pool_id": pool_id,
        # The `iss` claim names the AWS host, not the emulator's.
        "issuer": f"https://cognito-idp.{REGION}.amazonaws.com/{pool_id}",
        # Not pool-scoped: ministack finds the pool from the client id.
        "token_endpoint": f"{endpoint}/oauth2/token",
        "jwks_uri": f"{endpoint}/{pool_id}/.well-known/jwks.json",
        "access_token_validity_seconds": ttl,
        "m2m": {
            "client_id": m2m["ClientId"],
            "client_secret": m2m["ClientSecret"],
            "scope": SCOPE,
        },
        "srp": {
            "public_client_id": srp_public["ClientId"],
            "confidential_client_id": srp_confidential["ClientId"],
            "confidential_client_secret": srp_confidential["ClientSecret"],
            "no_srp_client_id": no_srp["ClientId"],
            "long_lived_client_id": srp_long_lived["ClientId"],
            "long_lived_client_secret": srp_long_lived["ClientSecret"],
        },
        "managed_login": {
            "client_id": managed_login["ClientId"],
            "redirect_uri": managed_login_redirect,
            "authorization_endpoint": f"{endpoint}/oauth2/authorize",
            "login_endpoint": f"{endpoint}/login",
        },
        "user": {"username": USERNAME, "email": EMAIL, "password": PASSWORD},
        "new_password_user": {"username": NEW_USER, "temporary_password": NEW_USER_TEMPORARY_PASSWORD},
    }


def main() -> int:
    t0 = time.monotonic()
    parent = os.getppid() if os.environ.get("EXIT_WITH_PARENT", "1") != "0" else None
    if parent == 1:
        parent = None  # started detached: nothing to watch
    requested = int(os.environ.get("PORT") or "0")
    ttl = int(os.environ.get("TOKEN_TTL_SECONDS") or "5")
    if ttl <= 0:
        log("TOKEN_TTL_SECONDS must be positive")
        return 2
    timeout = float(os.environ.get("STARTUP_TIMEOUT") or "60")
    deadline = time.monotonic() + timeout
    workdir = tempfile.mkdtemp(prefix="en-auth-ministack-")
    log_path = os.path.join(workdir, "ministack.log")

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    proc = None
    try:
        attempts = 1 if requested else 3  # a picked port can be taken before ministack binds it
        for attempt in range(attempts):
            port = requested or free_port()
            endpoint = f"http://127.0.0.1:{port}"
            proc = start_ministack(port, workdir, log_path)
            if wait_healthy(proc, endpoint, deadline):
                break
            output = open(log_path, "rb").read().decode("utf-8", "replace")
            if proc.poll() is None:
                proc.kill()
                proc.wait()
                log(f"ministack did not become healthy on {endpoint} within {timeout:g} s; its output:")
                sys.stderr.write(output)
                return 1
            log(f"ministack exited with status {proc.returncode} (attempt {attempt + 1}); its output:")
            sys.stderr.write(output)
            proc = None
            if stop.is_set() or time.monotonic() >= deadline:
                break
        if proc is None:
            return 1
        log(f"ministack (pid {proc.pid}) healthy on {endpoint} after {time.monotonic() - t0:.2f} s")

        info = provision(endpoint, ttl)
        if stop.is_set():
            log("stopped during provisioning")
            return 0
        info["pid"] = proc.pid
        sys.stdout.write(json.dumps(info) + "\n")
        sys.stdout.flush()
        log(f"ready after {time.monotonic() - t0:.2f} s; logs in {log_path}")

        while not stop.wait(0.5):
            if proc.poll() is not None:
                log(f"ministack exited unexpectedly with status {proc.returncode}; its output:")
                sys.stderr.write(open(log_path, "rb").read().decode("utf-8", "replace"))
                return 1
            if parent is not None and os.getppid() != parent:
                log("parent process died; shutting down")
                break
        return 0
    except Exception as exc:  # provisioning failed: say why, with ministack's output
        log(f"failed: {exc!r}")
        if os.path.exists(log_path):
            sys.stderr.write(open(log_path, "rb").read().decode("utf-8", "replace"))
        return 1
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                log("ministack ignored SIGTERM for 10 s; killing it")
                proc.kill()
                proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
