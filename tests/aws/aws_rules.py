"""AWS rules the emulator (moto 5.2.5) lacks and the playbooks depend on, added through moto's own
extension points: each rule patches one moto backend (or response) method, then the patched moto is
served in this process by moto's ThreadedMotoServer.

Only rules AWS has, each with the AWS documentation it follows. To add one: write a function that
patches moto, decorate it with @rule(...) naming the API action and the AWS page it follows, and the
server (and `python tests/aws/aws_rules.py --list`) picks it up.

Run: `python tests/aws/aws_rules.py --port 5000` (what tests/aws/awsstack.py and
scripts/services.sh start instead of plain `moto_server`).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto.autoscaling import models as autoscaling_models
from moto.autoscaling import responses as autoscaling_responses
from moto.autoscaling.exceptions import ValidationError as AutoScalingValidationError
from moto.elbv2 import models as elbv2_models
from moto.elbv2.exceptions import ELBClientError
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.rds import models as rds_models
from moto.rds.exceptions import InvalidParameterCombination


@dataclass(frozen=True)
class Rule:
    action: str  # the API action(s) the rule applies to
    summary: str  # what AWS does that moto does not
    doc: str  # the AWS documentation page it follows (title, URL)
    install: Callable[[], None]


RULES: list[Rule] = []
_installed = False


def rule(action: str, summary: str, doc: str) -> Callable[[Callable[[], None]], Callable[[], None]]:
    """Register a function that patches moto as one AWS rule."""

    def register(install: Callable[[], None]) -> Callable[[], None]:
        RULES.append(Rule(action, summary, doc, install))
        return install

    return register


def install() -> None:
    """Apply every rule once (safe to call again)."""
    global _installed  # noqa: PLW0603 - patches are process-wide, applied once
    if not _installed:
        for r in RULES:
            r.install()
        _installed = True


# --- Elastic Load Balancing ----------------------------------------------------------------------


class OperationNotPermittedError(ELBClientError):
    def __init__(self, message: str) -> None:
        super().__init__("OperationNotPermitted", message)


@rule(
    action="elasticloadbalancing:DeleteLoadBalancer",
    summary="a load balancer with deletion protection on cannot be deleted (OperationNotPermitted)",
    doc=(
        "Application Load Balancers, 'Deletion protection': https://docs.aws.amazon.com/"
        "elasticloadbalancing/latest/application/edit-load-balancer-attributes.html#deletion-protection"
        " ; API_DeleteLoadBalancer (error OperationNotPermitted): https://docs.aws.amazon.com/"
        "elasticloadbalancing/latest/APIReference/API_DeleteLoadBalancer.html"
    ),
)
def _deletion_protection() -> None:
    original = elbv2_models.ELBv2Backend.delete_load_balancer

    def delete_load_balancer(self: Any, arn: str) -> None:
        lb = self.load_balancers.get(arn)
        if lb is not None and lb.attrs.get("deletion_protection.enabled") == "true":
            raise OperationNotPermittedError(
                f"Load balancer '{arn}' cannot be deleted because deletion protection is enabled"
            )
        original(self, arn)

    elbv2_models.ELBv2Backend.delete_load_balancer = delete_load_balancer


# --- RDS -----------------------------------------------------------------------------------------


def _version(text: str) -> tuple[int, ...]:
    """'8.0.41' -> (8, 0, 41); a suffix such as '-rds.2025' is ignored."""
    return tuple(int(n) for n in re.findall(r"\d+", text.split("-", maxsplit=1)[0]))


@rule(
    action="rds:ModifyDBInstance",
    summary=(
        "EngineVersion lower than the running one is refused (InvalidParameterCombination "
        "'Cannot upgrade mysql from 8.0.41 to 8.0.40'); a major version alone ('8.4') is accepted"
    ),
    doc=(
        "API_ModifyDBInstance, EngineVersion ('The version number of the database engine to "
        "upgrade to ... If you specify only a major version, Amazon RDS updates the DB instance to "
        "the default minor version if the current minor version is lower'): "
        "https://docs.aws.amazon.com/AmazonRDS/"
        "latest/APIReference/API_ModifyDBInstance.html ; 'Upgrading the MySQL DB engine': "
        "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_UpgradeDBInstance.MySQL.html"
    ),
)
def _no_engine_downgrade() -> None:
    original = rds_models.RDSBackend.modify_db_instance

    def modify_db_instance(self: Any, db_id: str, db_kwargs: dict[str, Any]) -> Any:
        wanted = db_kwargs.get("engine_version")
        if wanted:
            db = self.describe_db_instances(db_id)[0]
            now, new = _version(db.engine_version), _version(wanted)
            major_only = len(new) == 2 and now[:2] == new
            if new < now and not major_only:
                raise InvalidParameterCombination(
                    f"Cannot upgrade {db.engine} from {db.engine_version} to {wanted}"
                )
            if major_only:
                db_kwargs = {k: v for k, v in db_kwargs.items() if k != "engine_version"}
        return original(self, db_id, db_kwargs)

    rds_models.RDSBackend.modify_db_instance = modify_db_instance


# --- Auto Scaling --------------------------------------------------------------------------------


@rule(
    action="autoscaling:SetDesiredCapacity",
    summary="a desired capacity outside [MinSize, MaxSize] is refused (ValidationError)",
    doc=(
        "API_SetDesiredCapacity: https://docs.aws.amazon.com/autoscaling/ec2/APIReference/"
        "API_SetDesiredCapacity.html ; 'Set scaling limits for your Auto Scaling group' (the "
        "desired capacity must be within the minimum and maximum): "
        "https://docs.aws.amazon.com/autoscaling/"
        "ec2/userguide/asg-capacity-limits.html"
    ),
)
def _set_desired_within_limits() -> None:
    # The API action only: moto's own scaling paths (ExecutePolicy, deleting a group) call the
    # backend method too, and AWS clamps those instead of refusing them.
    original = autoscaling_responses.AutoScalingResponse.set_desired_capacity

    def set_desired_capacity(self: Any) -> Any:
        name = self._get_param("AutoScalingGroupName")
        desired = self._get_int_param("DesiredCapacity")
        group = self.autoscaling_backend.autoscaling_groups.get(name)
        if group is not None and desired is not None:
            if desired > group.max_size:
                raise AutoScalingValidationError(
                    f"New SetDesiredCapacity value {desired} is above max value "
                    f"{group.max_size} for the AutoScalingGroup."
                )
            if desired < group.min_size:
                raise AutoScalingValidationError(
                    f"New SetDesiredCapacity value {desired} is below min value "
                    f"{group.min_size} for the AutoScalingGroup."
                )
        return original(self)

    autoscaling_responses.AutoScalingResponse.set_desired_capacity = set_desired_capacity


@rule(
    action="autoscaling:UpdateAutoScalingGroup",
    summary=(
        "the resulting MinSize <= DesiredCapacity <= MaxSize must hold (ValidationError); a new "
        "min or max alone moves the desired capacity into the range (moto already does that part)"
    ),
    doc=(
        "API_UpdateAutoScalingGroup ('DesiredCapacity ... must be greater than or equal to the "
        "minimum size of the group and less than or equal to the maximum size'): "
        "https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_UpdateAutoScalingGroup.html"
    ),
)
def _update_within_limits() -> None:
    original = autoscaling_models.AutoScalingBackend.update_auto_scaling_group

    def update_auto_scaling_group(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        group = self.autoscaling_groups.get(name)
        if group is not None:
            low = kwargs.get("min_size")
            high = kwargs.get("max_size")
            desired = kwargs.get("desired_capacity")
            low = group.min_size if low is None else low
            high = group.max_size if high is None else high
            if low > high:
                raise AutoScalingValidationError(
                    f"Max bound, {high}, must be greater than or equal to min bound, {low}"
                )
            if desired is not None and not low <= desired <= high:
                raise AutoScalingValidationError(
                    f"Desired capacity:{desired} must be between the specified min size:{low} "
                    f"and max size:{high}"
                )
        return original(self, name, *args, **kwargs)

    autoscaling_models.AutoScalingBackend.update_auto_scaling_group = update_auto_scaling_group


# --- Serving -------------------------------------------------------------------------------------


def serve(host: str, port: int) -> None:
    """Moto with the rules above, in this process, until SIGTERM/SIGINT."""
    # Read by moto at request time: without it, attaching an AWS-managed IAM policy
    # (AmazonSSMManagedInstanceCore) fails with NoSuchEntity.
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    install()
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    print(f"moto with {len(RULES)} AWS rules on http://{host}:{port}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--list", action="store_true", help="print the rules and their AWS docs")
    args = parser.parse_args()
    if args.list:
        for r in RULES:
            print(f"{r.action}: {r.summary}\n    {r.doc}")
        return
    serve(args.host, args.port)


if __name__ == "__main__":
    main()
