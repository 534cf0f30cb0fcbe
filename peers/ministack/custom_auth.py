#!/usr/bin/env python3
"""Start a ministack Cognito emulator whose pool runs custom authentication (CUSTOM_AUTH)
through real Lambda triggers, for en-auth's integration tests.

Run with the peers venv's interpreter:

    peers/.venv/bin/python peers/ministack/custom_auth.py

It is start.py (same environment variables, same lifecycle, same JSON) with ministack's
`lambda` and `iam` services on as well (the functions' role), and one more user pool, provisioned through boto3, in the JSON
under "custom_auth":

    {"user_pool_id", "public_client_id", "confidential_client_id",
     "confidential_client_secret", "username", "password",
     "answers": {"1": ..., "2": ...}}

Its DefineAuthChallenge, CreateAuthChallenge and VerifyAuthChallengeResponse triggers are
Python Lambda functions that ministack runs: with SRP (the session starts with SRP_A) they ask
PASSWORD_VERIFIER (ministack verifies the proof), then one CUSTOM_CHALLENGE; without SRP two
CUSTOM_CHALLENGE rounds (ministack ends a CUSTOM_AUTH session after three answered steps, SRP_A
and PASSWORD_VERIFIER included). Each round's public parameters are {"round": "<n>"}; its answer
is answers["<n>"]; a wrong answer fails the authentication (NotAuthorizedException).
"""

import io
import json
import os
import sys
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("MINISTACK_SERVICES", "cognito-idp,lambda,iam")

import start  # noqa: E402  (after the path and the services are set)

USERNAME = "riddler"
PASSWORD = "Corr3ct-Horse!Battery"
ANSWERS = {"1": "first-answer-2468", "2": "second-answer-1357"}
ROLE_NAME = "en-auth-custom-auth"

DEFINE = """
def handler(event, context):
    session = event["request"]["session"]
    names = [c["challengeName"] for c in session]
    response = event["response"]
    response["issueTokens"] = False
    response["failAuthentication"] = False
    if any(c["challengeResult"] is False for c in session):
        response["failAuthentication"] = True
        return event
    srp = "SRP_A" in names
    if names and names[-1] == "SRP_A":
        response["challengeName"] = "PASSWORD_VERIFIER"
        return event
    rounds = 1 if srp else 2
    if names.count("CUSTOM_CHALLENGE") >= rounds:
        response["issueTokens"] = True
        return event
    response["challengeName"] = "CUSTOM_CHALLENGE"
    return event
"""

CREATE = """
ANSWERS = %r

def handler(event, context):
    n = str(1 + [c["challengeName"] for c in event["request"]["session"]].count("CUSTOM_CHALLENGE"))
    event["response"]["publicChallengeParameters"] = {"round": n}
    event["response"]["privateChallengeParameters"] = {"answer": ANSWERS[n]}
    event["response"]["challengeMetadata"] = "ROUND-" + n
    return event
""" % (ANSWERS,)

VERIFY = """
def handler(event, context):
    expected = event["request"]["privateChallengeParameters"].get("answer")
    event["response"]["answerCorrect"] = event["request"]["challengeAnswer"] == expected
    return event
"""


def zipped(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", source)
    return buffer.getvalue()


def provision_custom_auth(endpoint: str) -> dict:
    import boto3

    session = dict(
        endpoint_url=endpoint,
        region_name=start.REGION,
        aws_access_key_id=start.ADMIN_ACCESS_KEY_ID,
        aws_secret_access_key=start.ADMIN_SECRET_ACCESS_KEY,
    )
    lam = boto3.client("lambda", **session)
    idp = boto3.client("cognito-idp", **session)
    role = boto3.client("iam", **session).create_role(
        RoleName=ROLE_NAME,
        AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }],
        }),
    )["Role"]["Arn"]
    arns = {}
    for trigger, source in [
        ("DefineAuthChallenge", DEFINE),
        ("CreateAuthChallenge", CREATE),
        ("VerifyAuthChallengeResponse", VERIFY),
    ]:
        created = lam.create_function(
            FunctionName=f"en-auth-{trigger}",
            Runtime="python3.12",
            Role=role,
            Handler="index.handler",
            Code={"ZipFile": zipped(source)},
        )
        arns[trigger] = created["FunctionArn"]
    pool = idp.create_user_pool(PoolName="en-auth-custom-auth", LambdaConfig=arns)["UserPool"]
    pool_id = pool["Id"]
    flows = ["ALLOW_CUSTOM_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    public = idp.create_user_pool_client(
        UserPoolId=pool_id, ClientName="en-auth-custom-public", GenerateSecret=False,
        ExplicitAuthFlows=flows,
    )["UserPoolClient"]
    confidential = idp.create_user_pool_client(
        UserPoolId=pool_id, ClientName="en-auth-custom-confidential", GenerateSecret=True,
        ExplicitAuthFlows=flows,
    )["UserPoolClient"]
    idp.admin_create_user(UserPoolId=pool_id, Username=USERNAME, MessageAction="SUPPRESS")
    idp.admin_set_user_password(
        UserPoolId=pool_id, Username=USERNAME, Password=PASSWORD, Permanent=True
    )
    return {
        "user_pool_id": pool_id,
        "public_client_id": public["ClientId"],
        "confidential_client_id": confidential["ClientId"],
        "confidential_client_secret": confidential["ClientSecret"],
        "username": USERNAME,
        "password": PASSWORD,
        "answers": ANSWERS,
    }


def main() -> int:
    provision = start.provision

    def with_custom_auth(endpoint: str, ttl: int) -> dict:
        info = provision(endpoint, ttl)
        info["custom_auth"] = provision_custom_auth(endpoint)
        return info

    start.provision = with_custom_auth
    return start.main()


if __name__ == "__main__":
    sys.exit(main())
