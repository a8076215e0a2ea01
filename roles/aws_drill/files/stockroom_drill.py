#!/usr/bin/env python3
"""API steps of the scaling drill that no Ansible module offers.

Each sub-command does one step, appends what it observed to the timeline file (JSON lines:
step, seconds since the drill started, observed value) and prints a JSON result for the playbook.
On the emulator (simulated mode) alarms never evaluate, so `trigger` does what CloudWatch would:
set the alarm state, run the policy the alarm points to, publish the alarm notification.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import boto3

STRESS_SCRIPT = (
    "if command -v stress-ng >/dev/null; then stress-ng --cpu 0 --timeout {s}s >/dev/null 2>&1 & "
    "else for _ in $(seq $(nproc)); do timeout {s} sh -c 'while :; do :; done' & done; fi"
)
STOP_SCRIPT = "pkill -f stress-ng || true; pkill -f 'while :; do :; done' || true"


class Drill:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.timeline = Path(args.timeline)
        kwargs: dict[str, Any] = {"region_name": args.region}
        if args.endpoint:
            kwargs["endpoint_url"] = args.endpoint
        self.session_kwargs = kwargs

    def client(self, service: str) -> Any:
        return boto3.client(service, **self.session_kwargs)

    def started(self) -> float:
        first = self.timeline.read_text().splitlines()[0] if self.timeline.exists() else ""
        return float(json.loads(first)["epoch"]) if first else time.time()

    def record(self, step: str, observed: Any) -> dict[str, Any]:
        event = {
            "step": step,
            "t": round(time.time() - self.started(), 1),
            "epoch": time.time(),
            "observed": observed,
        }
        if not self.timeline.exists():
            event["t"] = 0.0
        with self.timeline.open("a") as out:
            out.write(json.dumps(event) + "\n")
        return event

    # --- state -----------------------------------------------------------------------------
    def group(self) -> dict[str, Any]:
        groups = self.client("autoscaling").describe_auto_scaling_groups(
            AutoScalingGroupNames=[self.args.asg]
        )["AutoScalingGroups"]
        if not groups:
            raise SystemExit(f"drill: no Auto Scaling Group {self.args.asg} (run site.yml first)")
        return groups[0]

    def capacity(self) -> dict[str, int]:
        g = self.group()
        in_service = [i for i in g["Instances"] if i["LifecycleState"] == "InService"]
        return {
            "min": g["MinSize"],
            "max": g["MaxSize"],
            "desired": g["DesiredCapacity"],
            "in_service": len(in_service),
        }

    def alarm(self, name: str) -> dict[str, Any]:
        alarms = self.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"]
        if not alarms:
            raise SystemExit(f"drill: no alarm {name} (run site.yml with the simple scaling mode)")
        return alarms[0]

    def policy_of(self, alarm: dict[str, Any]) -> dict[str, Any]:
        """The scaling policy among the alarm's actions - found, not assumed."""
        arns = [a for a in alarm["AlarmActions"] if ":autoscaling:" in a]
        if len(arns) != 1:
            raise SystemExit(f"drill: alarm {alarm['AlarmName']} points to {len(arns)} policies")
        policies = self.client("autoscaling").describe_policies(AutoScalingGroupName=self.args.asg)[
            "ScalingPolicies"
        ]
        for p in policies:
            if p["PolicyARN"] == arns[0]:
                return p
        raise SystemExit(f"drill: policy {arns[0]} of {alarm['AlarmName']} does not exist")

    def healthy_targets(self) -> int:
        """In-service instances of the group that every target group reports healthy.

        Counted per instance: the emulator leaves terminated instances registered (and "healthy").
        """
        group = self.group()
        elb = self.client("elbv2")
        healthy: set[str] | None = None
        for arn in group["TargetGroupARNs"]:
            found = elb.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
            ids = {t["Target"]["Id"] for t in found if t["TargetHealth"]["State"] == "healthy"}
            healthy = ids if healthy is None else healthy & ids
        in_service = {
            i["InstanceId"] for i in group["Instances"] if i["LifecycleState"] == "InService"
        }
        return len(in_service & (healthy or set()))

    def cmd_start(self) -> dict[str, Any]:
        if self.timeline.exists():
            self.timeline.unlink()
        cap = self.capacity()
        high = self.alarm(self.args.high)
        alarms = {n: self.alarm(n)["StateValue"] for n in (self.args.high, self.args.low)}
        topics = [a for a in high["AlarmActions"] if ":sns:" in a]
        if not topics:
            raise SystemExit(f"drill: alarm {self.args.high} notifies no SNS topic")
        self.record("start", {**cap, "alarms": alarms, "mode": self.args.mode})
        return {"capacity": cap, "alarms": alarms, "topic": topics[0]}

    def cmd_observe(self) -> dict[str, Any]:
        cap = self.capacity()
        cap["healthy_targets"] = self.healthy_targets()
        self.record(self.args.step or "observe", cap)
        return cap

    # --- SNS -> SQS --------------------------------------------------------------------------
    def cmd_subscribe(self) -> dict[str, Any]:
        sub = self.client("sns").subscribe(
            TopicArn=self.args.topic,
            Protocol="sqs",
            Endpoint=self.args.queue_arn,
            Attributes={"RawMessageDelivery": "false"},
            ReturnSubscriptionArn=True,
        )
        self.record("queue subscribed to the alerts topic", self.args.queue_arn)
        return {"subscription_arn": sub["SubscriptionArn"], "changed": True}

    def cmd_unsubscribe(self) -> dict[str, Any]:
        sns = self.client("sns")
        removed = 0
        for sub in sns.list_subscriptions_by_topic(TopicArn=self.args.topic)["Subscriptions"]:
            if sub["Endpoint"] == self.args.queue_arn:
                sns.unsubscribe(SubscriptionArn=sub["SubscriptionArn"])
                removed += 1
        self.record("queue unsubscribed", removed)
        return {"removed": removed, "changed": removed > 0}

    def cmd_messages(self) -> dict[str, Any]:
        """Drain the queue until the expected alarm notifications arrived or the wait ran out."""
        sqs = self.client("sqs")
        url = sqs.get_queue_url(QueueName=self.args.queue_arn.split(":")[-1])["QueueUrl"]
        seen: list[dict[str, Any]] = []
        deadline = time.time() + self.args.timeout
        while time.time() < deadline:
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
                "Messages", []
            )
            for m in got:
                envelope = json.loads(m["Body"])
                seen.append(summarise(envelope))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            alarms = [s for s in seen if s["kind"] == "alarm"]
            if len(alarms) >= self.args.expect and not got:
                break
        kinds: dict[str, Any] = {
            k: sum(1 for s in seen if s["kind"] == k) for k in ("alarm", "asg-event", "other")
        }
        if self.args.mode == "simulated":
            kinds["note"] = "the emulator emits no Auto Scaling events into EventBridge"
        self.record("SNS messages read from the queue", kinds)
        return {"messages": seen, "counts": kinds}

    # --- simulated trigger (emulator) ----------------------------------------------------------
    def cmd_trigger(self) -> dict[str, Any]:
        """Do what CloudWatch does when the alarm fires; refuse to leave [min, max]."""
        cw, asg = self.client("cloudwatch"), self.client("autoscaling")
        alarm = self.alarm(self.args.alarm)
        policy = self.policy_of(alarm)
        before = self.capacity()
        wanted = before["desired"] + int(policy["ScalingAdjustment"])
        reason = f"Simulated by the drill: the emulator does not evaluate {alarm['MetricName']}"
        cw.set_alarm_state(AlarmName=alarm["AlarmName"], StateValue="ALARM", StateReason=reason)
        self.record(f"{alarm['AlarmName']} -> ALARM (simulated)", "ALARM")
        if not before["min"] <= wanted <= before["max"]:
            # AWS clamps to [min, max]; the emulator would not, so the drill refuses instead.
            self.record(
                f"policy {policy['PolicyName']} refused",
                f"desired {before['desired']} -> {wanted} outside "
                f"[{before['min']}, {before['max']}]",
            )
            self.publish(alarm, reason)
            return {"refused": True, "desired": before["desired"], "changed": False}
        asg.execute_policy(
            AutoScalingGroupName=self.args.asg, PolicyName=policy["PolicyName"], HonorCooldown=False
        )
        after = self.capacity()
        self.record(
            f"policy {policy['PolicyName']} executed",
            f"desired {before['desired']} -> {after['desired']}",
        )
        self.publish(alarm, reason)
        return {
            "refused": False,
            "policy": policy["PolicyName"],
            "before": before["desired"],
            "desired": after["desired"],
            "changed": True,
        }

    def publish(self, alarm: dict[str, Any], reason: str) -> None:
        """The notification CloudWatch sends to the alarm's SNS actions."""
        message = {
            "AlarmName": alarm["AlarmName"],
            "NewStateValue": "ALARM",
            "NewStateReason": reason,
            "Trigger": {
                "MetricName": alarm["MetricName"],
                "Namespace": alarm["Namespace"],
                "Threshold": alarm["Threshold"],
                "ComparisonOperator": alarm["ComparisonOperator"],
            },
        }
        sns = self.client("sns")
        for arn in (a for a in alarm["AlarmActions"] if ":sns:" in a):
            sns.publish(
                TopicArn=arn,
                Subject=f'ALARM: "{alarm["AlarmName"]}"',
                Message=json.dumps(message),
            )

    def cmd_reset(self) -> dict[str, Any]:
        cw = self.client("cloudwatch")
        for name in (self.args.high, self.args.low):
            if cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]:
                cw.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="Drill finished")
        changed = False
        if self.args.desired is not None and self.capacity()["desired"] != self.args.desired:
            self.client("autoscaling").set_desired_capacity(
                AutoScalingGroupName=self.args.asg, DesiredCapacity=self.args.desired
            )
            changed = True
        self.record("alarms reset to OK", {"desired": self.capacity()["desired"]})
        return {"changed": changed}

    # --- live mode (AWS): load through SSM, real waits ---------------------------------------
    def instance_ids(self) -> list[str]:
        return [
            i["InstanceId"] for i in self.group()["Instances"] if i["LifecycleState"] == "InService"
        ]

    def send(self, ids: list[str], script: str) -> str:
        if not ids:
            return ""
        out = self.client("ssm").send_command(
            InstanceIds=ids,
            DocumentName="AWS-RunShellScript",
            Parameters={"commands": [script]},
            Comment="stockroom scaling drill",
            TimeoutSeconds=60,
        )
        return str(out["Command"]["CommandId"])

    def cmd_stress(self) -> dict[str, Any]:
        ids = self.instance_ids()
        self.send(ids, STRESS_SCRIPT.format(s=self.args.seconds))
        self.record("CPU stress started (SSM Run Command)", {"instances": len(ids)})
        return {"instances": ids, "changed": True}

    def cmd_stop(self) -> dict[str, Any]:
        ids = self.instance_ids()
        self.send(ids, STOP_SCRIPT)
        self.record("CPU stress stopped", {"instances": len(ids)})
        return {"instances": ids, "changed": bool(ids)}

    def cmd_wait(self) -> dict[str, Any]:
        """Poll until desired/in-service reach the target (stressing new instances too), bounded."""
        target = self.args.target
        deadline = time.time() + self.args.timeout
        stressed = set(self.instance_ids()) if self.args.keep_stressing else set()
        last: dict[str, Any] = {}
        alarm_seen = False
        while time.time() < deadline:
            cap = self.capacity()
            if cap["desired"] > cap["max"]:
                raise SystemExit(f"drill: desired {cap['desired']} above max {cap['max']}")
            if not alarm_seen and self.alarm(self.args.alarm)["StateValue"] == "ALARM":
                alarm_seen = True
                self.record(f"{self.args.alarm} -> ALARM", "ALARM")
            if cap != last:
                self.record(self.args.step, cap)
                last = cap
            if self.args.keep_stressing:
                new = [i for i in self.instance_ids() if i not in stressed]
                if new:
                    self.send(new, STRESS_SCRIPT.format(s=self.args.seconds))
                    stressed.update(new)
            if cap["desired"] == target and cap["in_service"] == target:
                cap["healthy_targets"] = self.healthy_targets()
                self.record(f"{self.args.step}: reached {target}", cap)
                return {"reached": True, **cap}
            time.sleep(self.args.poll)
        raise SystemExit(
            f"drill: step '{self.args.step}' did not happen within {self.args.timeout}s "
            f"(wanted {target}, last seen {last}; alarm {self.args.alarm} "
            f"{'fired' if alarm_seen else 'never reached ALARM'})"
        )

    # --- report ------------------------------------------------------------------------------
    def cmd_report(self) -> dict[str, Any]:
        events = [json.loads(line) for line in self.timeline.read_text().splitlines() if line]
        report = {
            "mode": self.args.mode,
            "asg": self.args.asg,
            "outcome": self.args.outcome,
            "timeline": [{k: e[k] for k in ("step", "t", "observed")} for e in events],
        }
        Path(self.args.out).write_text(json.dumps(report, indent=2) + "\n")
        width = max((len(e["step"]) for e in events), default=10)
        lines = [f"{'step':<{width}}  {'t (s)':>7}  observed", "-" * (width + 30)]
        lines += [f"{e['step']:<{width}}  {e['t']:>7}  {fmt(e['observed'])}" for e in events]
        return {"table": lines, "report": self.args.out}


def fmt(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def summarise(envelope: dict[str, Any]) -> dict[str, Any]:
    """Classify an SNS envelope: alarm notification, Auto Scaling event, or other."""
    try:
        body = json.loads(envelope.get("Message", ""))
    except ValueError:
        body = {}
    if "AlarmName" in body:
        return {"kind": "alarm", "name": body["AlarmName"], "state": body.get("NewStateValue")}
    if body.get("source") == "aws.autoscaling":
        return {"kind": "asg-event", "name": body.get("detail-type")}
    return {"kind": "other", "subject": envelope.get("Subject")}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("command")
    p.add_argument("--region", required=True)
    p.add_argument("--endpoint", default="")
    p.add_argument("--timeline", required=True)
    p.add_argument("--asg", required=True)
    p.add_argument("--mode", default="simulated")
    p.add_argument("--high", default="")
    p.add_argument("--low", default="")
    p.add_argument("--alarm", default="")
    p.add_argument("--topic", default="")
    p.add_argument("--queue-arn", default="")
    p.add_argument("--expect", type=int, default=0)
    p.add_argument("--timeout", type=int, default=10)
    p.add_argument("--poll", type=int, default=30)
    p.add_argument("--seconds", type=int, default=600)
    p.add_argument("--target", type=int, default=0)
    p.add_argument("--keep-stressing", action="store_true")
    p.add_argument("--desired", type=int, default=None)
    p.add_argument("--step", default="")
    p.add_argument("--outcome", default="")
    p.add_argument("--out", default="")
    args = p.parse_args()
    handler = getattr(Drill(args), "cmd_" + args.command.replace("-", "_"), None)
    if handler is None:
        p.error(f"unknown command {args.command}")
    json.dump(handler(), sys.stdout, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
