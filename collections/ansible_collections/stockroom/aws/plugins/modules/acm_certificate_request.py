#!/usr/bin/python
# Copyright: The Stockroom authors. MIT License (see LICENSE at the repository root).
"""Ansible module stockroom.aws.acm_certificate_request: request an ACM certificate (DNS)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: acm_certificate_request
short_description: Request (or delete) an ACM certificate validated through DNS
description:
  - Finds the account's Amazon-issued certificate for I(domain_name) whose C(Name) tag is
    I(name) (one that has not failed, expired or been revoked) and requests one with DNS
    validation when there is none, so a rerun or a run after a crash never requests a second one.
  - Returns the CNAME records ACM asks for (I(validation_records)); write them in the domain's
    hosted zone, then call the module again with I(wait=true) to wait until it is C(ISSUED).
  - I(state=absent) deletes every such certificate and returns them with their validation
    records (also in check mode), so the caller can remove those records. ACM refuses to delete
    a certificate a load balancer's listener still uses (C(ResourceInUseException)), so delete the
    listener first.
  - community.aws.acm_certificate only imports certificates. Supports check mode; takes the
    connection options of every amazon.aws module (C(group/stockroom.aws.aws) reaches it).
options:
  domain_name:
    description: Fully qualified domain name of the certificate (its subject).
    type: str
    required: true
  name:
    description: The certificate's C(Name) tag; with I(domain_name) it identifies the certificate.
    type: str
    required: true
  tags:
    description: Further tags, set when the certificate is requested and added when missing later.
    type: dict
    default: {}
  state:
    description: Whether the certificate should exist.
    type: str
    choices: [present, absent]
    default: present
  wait:
    description:
      - Wait until the certificate is C(ISSUED); fail when ACM reports C(FAILED) or
        C(VALIDATION_TIMED_OUT) or when I(wait_timeout) passes.
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait for the certificate (ACM takes minutes once the records resolve).
    type: int
    default: 1800
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - The Stockroom authors
"""

EXAMPLES = r"""
- name: Request the certificate
  stockroom.aws.acm_certificate_request:
    domain_name: stock.example.com
    name: stockroom-prod
    tags: {Project: stockroom}
  register: cert

- name: Write the validation records
  amazon.aws.route53:
    hosted_zone_id: Z0123456789
    record: "{{ item.name }}"
    type: "{{ item.type }}"
    value: "{{ item.value }}"
    ttl: 300
    overwrite: true
  loop: "{{ cert.validation_records }}"

- name: Wait until ACM issued it
  stockroom.aws.acm_certificate_request:
    domain_name: stock.example.com
    name: stockroom-prod
    wait: true
"""

RETURN = r"""
certificate_arn:
  description: ARN of the certificate (absent when none exists, e.g. in check mode before it).
  returned: when I(state=present) and the certificate exists
  type: str
status:
  description: ACM's status of the certificate (C(PENDING_VALIDATION), C(ISSUED), ...).
  returned: when I(state=present) and the certificate exists
  type: str
validation_records:
  description: The DNS records ACM validates the domain with (C(name), C(type), C(value)).
  returned: when I(state=present)
  type: list
  elements: dict
certificates:
  description: The certificates deleted (would be, in check mode) - C(arn), C(validation_records).
  returned: when I(state=absent)
  type: list
  elements: dict
"""

import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from typing import Any

with suppress(ImportError):  # AnsibleAWSModule reports a missing botocore itself
    import botocore

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

# A certificate in one of these states is never used again: a new request replaces it.
_DEAD = {"FAILED", "EXPIRED", "REVOKED", "VALIDATION_TIMED_OUT", "INACTIVE"}
_LIVE = ["PENDING_VALIDATION", "ISSUED"]
# ACM fills in a new certificate's DomainValidationOptions a few seconds after the request.
_RECORDS_TIMEOUT = 120


class CertificateError(Exception):
    """ACM reported a state the run cannot go on from (failed validation, timeout)."""


def _tags(client: Any, arn: str) -> dict[str, str]:
    found = client.list_tags_for_certificate(aws_retry=True, CertificateArn=arn).get("Tags", [])
    return {t["Key"]: t.get("Value", "") for t in found}


def find(client: Any, domain: str, name: str) -> list[dict[str, Any]]:
    """The account's live Amazon-issued certificates for `domain` tagged Name=`name` (described)."""
    paginator = client.get_paginator("list_certificates")
    found = []
    for page in paginator.paginate(CertificateStatuses=_LIVE).build_full_result()[
        "CertificateSummaryList"
    ]:
        if page.get("DomainName", "").lower() != domain.lower():
            continue
        arn = page["CertificateArn"]
        if _tags(client, arn).get("Name") != name:
            continue
        cert = client.describe_certificate(aws_retry=True, CertificateArn=arn)["Certificate"]
        if cert.get("Type") == "AMAZON_ISSUED" and cert.get("Status") not in _DEAD:
            found.append(cert)
    return found


def records(cert: dict[str, Any]) -> list[dict[str, str]]:
    """The validation records of a described certificate, one per distinct record."""
    out: list[dict[str, str]] = []
    for option in cert.get("DomainValidationOptions", []):
        record = option.get("ResourceRecord")
        if record:
            item = {"name": record["Name"], "type": record["Type"], "value": record["Value"]}
            if item not in out:
                out.append(item)
    return out


def _describe(client: Any, arn: str) -> dict[str, Any]:
    return client.describe_certificate(aws_retry=True, CertificateArn=arn)["Certificate"]


def _poll(
    client: Any,
    arn: str,
    done: Callable[[dict[str, Any]], bool],
    timeout: float,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Describe the certificate until done(cert) holds; CertificateError on failure or timeout."""
    deadline = time.monotonic() + timeout
    delay = 2.0
    while True:
        cert = _describe(client, arn)
        if done(cert):
            return cert
        status = cert.get("Status")
        if status in _DEAD:
            reason = cert.get("FailureReason", "")
            raise CertificateError(f"certificate {arn} is {status} {reason}".strip())
        if time.monotonic() >= deadline:
            raise CertificateError(
                f"certificate {arn} still {status} after {int(timeout)} s: are the validation "
                "records in the zone that serves the domain (its NS records at the registrar)?"
            )
        sleep(delay)
        delay = min(delay * 1.5, 15.0)


def ensure_present(
    client: Any,
    domain: str,
    name: str,
    tags: dict[str, str],
    check_mode: bool,
    *,
    wait: bool = False,
    wait_timeout: float = 1800,
) -> dict[str, Any]:
    """Find or request the certificate; returns the module result."""
    found = find(client, domain, name)
    changed = False
    if found:
        # An issued one first, then the newest pending one.
        found.sort(key=lambda c: (c.get("Status") == "ISSUED", str(c.get("CreatedAt", ""))))
        cert = found[-1]
        arn = cert["CertificateArn"]
        missing = {k: v for k, v in tags.items() if _tags(client, arn).get(k) != v}
        if missing:
            changed = True
            if not check_mode:
                client.add_tags_to_certificate(
                    aws_retry=True,
                    CertificateArn=arn,
                    Tags=[{"Key": k, "Value": v} for k, v in missing.items()],
                )
    else:
        if check_mode:
            return {"changed": True, "validation_records": []}
        # A retried call (AWSRetry repeats it as it is) requests one certificate: the same token
        # within an hour returns the same one. A token of this run only: a certificate a teardown
        # deleted is not handed back to the next run (moto even fails on it); reruns find theirs
        # by the tag above.
        token = uuid.uuid4().hex
        arn = client.request_certificate(
            aws_retry=True,
            DomainName=domain,
            ValidationMethod="DNS",
            IdempotencyToken=token,
            Tags=[{"Key": "Name", "Value": name}]
            + [{"Key": k, "Value": v} for k, v in tags.items() if k != "Name"],
        )["CertificateArn"]
        changed = True
        cert = _describe(client, arn)
    if not records(cert) and cert.get("Status") != "ISSUED":
        cert = _poll(client, arn, lambda c: bool(records(c)), _RECORDS_TIMEOUT)
    if wait and cert.get("Status") != "ISSUED":
        if check_mode:
            return _result(changed, cert)
        cert = _poll(client, arn, lambda c: c.get("Status") == "ISSUED", wait_timeout)
    return _result(changed, cert)


def _result(changed: bool, cert: dict[str, Any]) -> dict[str, Any]:
    return {
        "changed": changed,
        "certificate_arn": cert["CertificateArn"],
        "status": cert.get("Status"),
        "validation_records": records(cert),
    }


def ensure_absent(client: Any, domain: str, name: str, check_mode: bool) -> dict[str, Any]:
    """Delete every matching certificate; returns them with their validation records."""
    found = find(client, domain, name)
    gone = [{"arn": c["CertificateArn"], "validation_records": records(c)} for c in found]
    if not check_mode:
        for cert in found:
            client.delete_certificate(aws_retry=True, CertificateArn=cert["CertificateArn"])
    return {"changed": bool(found), "certificates": gone}


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "domain_name": {"type": "str", "required": True},
            "name": {"type": "str", "required": True},
            "tags": {"type": "dict", "default": {}},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "wait": {"type": "bool", "default": False},
            "wait_timeout": {"type": "int", "default": 1800},
        },
        supports_check_mode=True,
    )
    client = module.client("acm", retry_decorator=AWSRetry.jittered_backoff())
    p = module.params
    domain = p["domain_name"].rstrip(".").lower()
    try:
        if p["state"] == "absent":
            result = ensure_absent(client, domain, p["name"], module.check_mode)
        else:
            tags = {str(k): str(v) for k, v in p["tags"].items()}
            result = ensure_present(
                client,
                domain,
                p["name"],
                tags,
                module.check_mode,
                wait=p["wait"],
                wait_timeout=p["wait_timeout"],
            )
    except CertificateError as exc:
        module.fail_json(msg=f"ACM certificate for {domain}: {exc}")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        module.fail_json_aws(exc, msg=f"Could not manage the ACM certificate for {domain}")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
