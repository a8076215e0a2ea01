"""Lookup plugin: one read-only AWS API call made inside ansible-playbook (no module process)."""

from __future__ import annotations

import datetime
from typing import Any

import botocore.exceptions
from ansible.errors import AnsibleLookupError
from ansible.module_utils.common.dict_transformations import _camel_to_snake
from ansible_collections.amazon.aws.plugins.plugin_utils.lookup import AWSLookupBase

DOCUMENTATION = r"""
name: aws_describe
short_description: One read-only AWS API call (Describe*, List*, Get*), answered in snake_case
description:
  - Calls one read-only operation of a boto3 client from the controller process, all pages of it,
    and returns the response the way the amazon.aws C(*_info) modules do - keys in snake_case, every
    C(Tags) (and C(TagList)) list of Key/Value pairs turned into a dict, timestamps as ISO strings;
    IAM policy documents (C(PolicyDocument), C(AssumeRolePolicyDocument)) are returned unchanged.
  - Errors (a resource that does not exist, too) fail the lookup; with C(errors='ignore') the
    lookup returns none instead, which the roles read as "hand it to the module".
  - Same connection options as the amazon.aws lookups (region, endpoint_url, profile, credentials).
  - Used by the Stockroom roles to decide which resources must be handed to a module at all. A
    module task costs a new Python process that imports boto3 (about 1 s), this costs a few ms.
options:
  _terms:
    description: The boto3 service name and the operation, for example C(ec2) and C(describe_vpcs).
    required: true
  params:
    description: The operation's parameters, as boto3 takes them (CamelCase).
    type: dict
    default: {}
extends_documentation_fragment:
  - amazon.aws.boto3
  - amazon.aws.common.plugins
  - amazon.aws.region.plugins
"""

EXAMPLES = r"""
- name: The security groups of a VPC
  ansible.builtin.debug:
    msg: >-
      {{ lookup('aws_describe', 'ec2', 'describe_security_groups',
                params={'Filters': [{'Name': 'vpc-id', 'Values': [vpc_id]}]},
                region=aws_region).security_groups }}
"""

RETURN = r"""
_raw:
  description: The response without its metadata, in snake_case.
  type: dict
"""

_READ_ONLY = ("describe_", "list_", "get_")
# Policy documents come back as AWS holds them (as the amazon.aws *_info modules keep them), so that
# a role can compare one with the document it would write.
_AS_IS = ("PolicyDocument", "AssumeRolePolicyDocument")
# Clients by service and connection: several lookups in one task load a service model only once.
_CLIENTS: dict[tuple[str, str], Any] = {}


def _plain(value: Any) -> Any:
    """snake_case keys, Tags lists as dicts (like the *_info modules), timestamps as strings."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in _AS_IS:
                out[_camel_to_snake(key)] = item
            elif (
                key in ("Tags", "TagList")
                and isinstance(item, list)
                and all("Key" in t for t in item)
            ):
                pairs = {t["Key"]: t.get("Value", "") for t in item}
                out[_camel_to_snake(key)] = pairs
            else:
                out[_camel_to_snake(key)] = _plain(item)
        return out
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    return value


class LookupModule(AWSLookupBase):
    def run(self, terms: list[Any], variables: Any = None, **kwargs: Any) -> list[Any]:
        super().run(terms, variables, **kwargs)
        if len(terms) != 2 or not str(terms[1]).startswith(_READ_ONLY):
            raise AnsibleLookupError("aws_describe takes a service and a Describe/List/Get call")
        service, operation = str(terms[0]), str(terms[1])
        params = self.get_option("params") or {}
        connection = sorted((k, str(v)) for k, v in self._options.items() if k != "params")
        key = (service, repr(connection))
        if key not in _CLIENTS:
            _CLIENTS[key] = self.client(service)
        client = _CLIENTS[key]
        try:
            if client.can_paginate(operation):
                result = client.get_paginator(operation).paginate(**params).build_full_result()
            else:
                result = getattr(client, operation)(**params)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
            raise AnsibleLookupError(f"{service}.{operation} failed: {e}") from e
        result.pop("ResponseMetadata", None)
        return [_plain(result)]
