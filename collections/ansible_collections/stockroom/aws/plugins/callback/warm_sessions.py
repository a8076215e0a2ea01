"""Callback warm_sessions: the describe lookup's botocore session, made before tasks are forked."""

from __future__ import annotations

import gc
from typing import Any

from ansible.plugins.callback import CallbackBase

try:
    from ansible_collections.stockroom.aws.plugins.plugin_utils import sessions
except ImportError:  # no boto3: no describe lookup will run either
    sessions = None

DOCUMENTATION = r"""
name: warm_sessions
type: aggregate
short_description: Prepare the describe lookup's AWS clients in ansible-playbook's main process
description:
  - ansible-playbook forks a worker for every task, and a worker's caches die with it. At the start
    of a playbook this makes the botocore session that C(stockroom.aws.describe) creates its clients
    from, and loads the service model of each service in I(services) into it, in the main process,
    so every worker starts with them (plugin_utils/sessions.py has the figures).
  - Makes no AWS call and resolves no credentials. Without boto3 it does nothing.
requirements:
  - enabled in ansible.cfg (callbacks_enabled)
options:
  services:
    description: The services whose models are loaded (those the Stockroom roles read).
    type: list
    elements: str
    default: [autoscaling, cloudwatch, ec2, elbv2, events, iam, logs, rds, route53, secretsmanager,
              sns, ssm, sts, wafv2]
    ini:
      - section: stockroom_warm_sessions
        key: services
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "stockroom.aws.warm_sessions"
    CALLBACK_NEEDS_ENABLED = True

    def v2_playbook_on_start(self, playbook: Any) -> None:
        if sessions is not None:
            sessions.warm(self.get_option("services"))
            # The models are many small objects every forked worker would otherwise walk (and so
            # copy) in its garbage collections: moved out of the collector's reach.
            gc.freeze()
