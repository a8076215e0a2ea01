"""Lookup plugin: one read-only AWS API call made inside ansible-playbook (no module process)."""

from __future__ import annotations

import datetime
from typing import Any

import botocore.exceptions
from ansible.errors import AnsibleLookupError
from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    boto3_tag_list_to_ansible_dict,
)
from ansible_collections.amazon.aws.plugins.plugin_utils.botocore import get_aws_connection_info
from ansible_collections.amazon.aws.plugins.plugin_utils.lookup import AWSLookupBase
from ansible_collections.stockroom.aws.plugins.plugin_utils import sessions

DOCUMENTATION = r"""
name: describe
short_description: One read-only AWS API call (Describe*, List*, Get*), answered in snake_case
description:
  - Calls one read-only operation of a boto3 client from the controller process, all pages of it,
    and returns the response the way the amazon.aws C(*_info) modules do - keys in snake_case, every
    C(Tags) (and C(TagList)) list of Key/Value pairs turned into a dict, timestamps as ISO strings;
    IAM policy documents (C(PolicyDocument), C(AssumeRolePolicyDocument)) are returned unchanged.
  - Same connection options as the amazon.aws modules and lookups (profile, credentials, session
    token, region, endpoint_url); the Stockroom roles pass the one C(aws_connection) dict that the
    plays' C(module_defaults) give the modules too.
  - Retries throttling and transient errors the way the modules do (C(AWSRetry.jittered_backoff)).
  - Every other error fails the lookup, access denied included. With C(missing=none) an error
    that says the resource does not exist (C(*NotFound*), C(NoSuchEntity)) returns none instead,
    which the roles read as "hand it to the module"; no option hides any other error.
  - A module task costs a new Python process that imports boto3 (about 1 s), this costs a few ms.
options:
  _terms:
    description: The boto3 service name and the operation, for example C(ec2) and C(describe_vpcs).
    required: true
  params:
    description: The operation's parameters, as boto3 takes them (CamelCase).
    type: dict
    default: {}
  missing:
    description: What a "no such resource" answer returns - C(fail) or C(none).
    type: str
    default: fail
    choices: [fail, none]
extends_documentation_fragment:
  - amazon.aws.boto3
  - amazon.aws.common.plugins
  - amazon.aws.region.plugins
"""

EXAMPLES = r"""
- name: The security groups of a VPC
  ansible.builtin.debug:
    msg: >-
      {{ lookup('stockroom.aws.describe', 'ec2', 'describe_security_groups',
                params={'Filters': [{'Name': 'vpc-id', 'Values': [vpc_id]}]},
                **aws_connection).security_groups }}
- name: A role that may not exist yet (none when it does not; access denied still fails)
  ansible.builtin.debug:
    msg: >-
      {{ lookup('stockroom.aws.describe', 'iam', 'get_role', params={'RoleName': 'x'},
                missing='none', **aws_connection) }}
"""

RETURN = r"""
_raw:
  description:
    - The response without its metadata, in snake_case.
    - None for a missing resource with C(missing=none).
  type: dict
"""

_READ_ONLY = ("describe_", "list_", "get_")
# Policy documents come back as AWS holds them (as the amazon.aws *_info modules keep them), so that
# a role can compare one with the document it would write.
_AS_IS = ("PolicyDocument", "AssumeRolePolicyDocument")
_TAGS = ("Tags", "TagList")
# Error codes meaning "there is no such resource": InvalidGroup.NotFound, NotFound (SNS),
# ResourceNotFoundException, DBSubnetGroupNotFoundFault, NoSuchEntity (IAM).
_MISSING_MARKS = ("NotFound", "NoSuchEntity")
# The modules' retry (amazon.aws AWSRetry); JSON services answer throttling as ThrottlingException.
_RETRY = AWSRetry.jittered_backoff(catch_extra_error_codes=["ThrottlingException"])
# Clients by service and connection: several lookups in one task load a service model only once.
_CLIENTS: dict[tuple[str, str], Any] = {}


def snake(value: Any) -> Any:
    """snake_case keys, Tags lists as dicts (like the *_info modules), timestamps as strings."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in _AS_IS:
                out[key] = item
            elif key in _TAGS and isinstance(item, list) and all("Key" in t for t in item):
                out[key] = boto3_tag_list_to_ansible_dict(item)
            else:
                out[key] = snake(item)
        # Only this level's keys: the values are converted above (tags and documents kept).
        return camel_dict_to_snake_dict(out, ignore_list=list(out))
    if isinstance(value, list):
        return [snake(v) for v in value]
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    return value


def is_missing(error: Exception) -> bool:
    """Whether AWS answered that the resource does not exist (and nothing else)."""
    if not isinstance(error, botocore.exceptions.ClientError):
        return False
    code = str(error.response.get("Error", {}).get("Code", ""))
    return any(mark in code for mark in _MISSING_MARKS)


@_RETRY
def call(client: Any, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """One operation, every page of it, retried like the modules' calls."""
    if client.can_paginate(operation):
        return dict(client.get_paginator(operation).paginate(**params).build_full_result())
    return dict(getattr(client, operation)(**params))


class LookupModule(AWSLookupBase):
    def run(self, terms: list[Any], variables: Any = None, **kwargs: Any) -> list[Any]:
        super().run(terms, variables, **kwargs)
        if len(terms) != 2 or not str(terms[1]).startswith(_READ_ONLY):
            raise AnsibleLookupError("describe takes a service and a Describe/List/Get call")
        service, operation = str(terms[0]), str(terms[1])
        params = self.get_option("params") or {}
        connection = sorted(
            (k, str(v)) for k, v in self._options.items() if k not in ("params", "missing")
        )
        key = (service, repr(connection))
        if key not in _CLIENTS:
            # From the session the main process prepared (callback warm_sessions), not a new one.
            _CLIENTS[key] = sessions.client(service, *get_aws_connection_info(self))
        try:
            result = call(_CLIENTS[key], operation, params)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
            if self.get_option("missing") == "none" and is_missing(e):
                return [None]
            raise AnsibleLookupError(f"{service}.{operation} failed: {e}") from e
        result.pop("ResponseMetadata", None)
        return [snake(result)]
