"""The emulator (moto + tests/aws/aws_rules.py) with moto's IAM access control on, recording every
action it checked.

moto checks IAM only after its first INITIAL_NO_AUTH_ACTION_COUNT requests (environment variable,
read when moto is imported): the test makes exactly that many to create its users, policies and
access keys, and from then on every request must be signed by a known access key and allowed by
the user's policies. What moto checks and what it does not (moto/iam/access_control.py, moto 5.2.5):
the action (`<signing name>:<Action>` - CloudWatch is signed `monitoring`, not `cloudwatch`) against
the Action/NotAction of every statement, an explicit Deny winning; the Resource element is compared
with the resource moto names, which is `*` for nearly every call (only IAM role, SQS queue and STS
AssumeRole calls name their ARN), and Condition blocks are read without the request's context, so
they always count as met. So on the emulator a policy proves its *actions*; its resource ARNs
and conditions are checked by the test against the names the stack uses, not by moto.

With STOCKROOM_ACTION_LOG set, each checked action is appended to that file as
`<access key id> <service>:<Action> allowed|denied`.

With STOCKROOM_MOTO_VIEW_POLICIES set (comma-separated policy names), a managed policy of that name
is stored as moto's view of it: every Resource `*`, no Condition, `cloudwatch:` actions as
`monitoring:` (the name CloudWatch signs with). Its actions are enforced as written; its resources
and conditions, which moto cannot evaluate, are checked by the test against the stack's ARNs. This
lets docs/aws.md's runbook create the operator's policy from the file, as an operator does.

Run: INITIAL_NO_AUTH_ACTION_COUNT=7 STOCKROOM_ACTION_LOG=/tmp/actions \
     python tests/aws/iam_emulator.py --port 5000
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

from moto import settings
from moto.core.authorization import ActionAuthenticatorMixin
from moto.iam.access_control import IAMRequestBase
from moto.iam.models import IAMBackend

sys.path.insert(0, str(Path(__file__).resolve().parent))
import aws_rules

_LOCK = threading.Lock()


def record_actions(path: Path) -> None:
    """Append every action moto checks (once access control is on) and its outcome to `path`."""
    original = ActionAuthenticatorMixin._authenticate_and_authorize_action

    def checked(self: Any, iam_request_cls: type, resource: str = "*") -> None:
        on = ActionAuthenticatorMixin.request_count >= settings.INITIAL_NO_AUTH_ACTION_COUNT
        outcome = "denied"
        try:
            original(self, iam_request_cls, resource)
            outcome = "allowed"
        finally:
            if on:
                scope = self.headers.get("Authorization", "").split("Credential=")[-1].split("/")
                service = scope[3] if len(scope) > 3 else "?"
                action = self._get_action()
                with _LOCK, path.open("a") as out:
                    out.write(f"{scope[0]} {service}:{action} {outcome}\n")

    ActionAuthenticatorMixin._authenticate_and_authorize_action = checked  # type: ignore[method-assign]


def route53_signature_unchecked() -> None:
    """moto recomputes the signature of Route 53's REST requests differently from botocore, so every
    signed Route 53 call fails with an empty error once access control is on. For route53 only the
    signature is not compared; the access key must still exist and the action is still checked."""
    original = IAMRequestBase.check_signature

    def check_signature(self: Any) -> None:
        if self._service != "route53":
            original(self)

    IAMRequestBase.check_signature = check_signature  # type: ignore[method-assign]


def moto_view(policy: dict[str, Any], without: str = "") -> dict[str, Any]:
    """What moto can evaluate: every Resource `*`, no Condition, CloudWatch signed as `monitoring`;
    `without` drops one action (and a statement left with none)."""
    view = copy.deepcopy(policy)
    for statement in view["Statement"]:
        actions = statement["Action"]
        actions = actions if isinstance(actions, list) else [actions]
        statement["Action"] = [
            a.replace("cloudwatch:", "monitoring:", 1) for a in actions if a != without
        ]
        statement["Resource"] = "*"
        statement.pop("Condition", None)
    view["Statement"] = [s for s in view["Statement"] if s["Action"]]
    return view


def store_moto_view(names: set[str]) -> None:
    """Managed policies named in `names` are stored as moto's view of them (see above)."""
    original = IAMBackend.create_policy

    def create_policy(self: Any, *args: Any, **kwargs: Any) -> Any:
        # moto 5.2.5: create_policy(description, path, policy_document, policy_name, tags)
        params = ("description", "path", "policy_document", "policy_name", "tags")
        call = dict(zip(params[: len(args)], args, strict=True)) | kwargs
        if call["policy_name"] in names:
            call["policy_document"] = json.dumps(moto_view(json.loads(call["policy_document"])))
        return original(self, **call)

    IAMBackend.create_policy = create_policy  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()
    route53_signature_unchecked()
    if os.environ.get("STOCKROOM_MOTO_VIEW_POLICIES"):
        store_moto_view(set(os.environ["STOCKROOM_MOTO_VIEW_POLICIES"].split(",")))
    if os.environ.get("STOCKROOM_ACTION_LOG"):
        record_actions(Path(os.environ["STOCKROOM_ACTION_LOG"]))
    aws_rules.serve(args.host, args.port)


if __name__ == "__main__":
    main()
