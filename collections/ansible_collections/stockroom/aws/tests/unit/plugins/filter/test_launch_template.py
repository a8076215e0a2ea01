"""launch_template_differs: true exactly when ec2_launch_template would add a version or default."""

from __future__ import annotations

import copy
from typing import Any

from ansible_collections.stockroom.aws.plugins.filter.launch_template import (
    launch_template_differs,
)

WANT: dict[str, Any] = {
    "image_id": "ami-1",
    "instance_type": "t3.small",
    "iam_instance_profile": "s-app",
    "monitoring": {"enabled": True},
    "metadata_options": {
        "http_endpoint": "enabled",
        "http_tokens": "required",
        "http_put_response_hop_limit": 1,
        "http_protocol_ipv6": "disabled",
        "instance_metadata_tags": "disabled",
    },
    "network_interfaces": [
        {
            "device_index": 0,
            "associate_public_ip_address": False,
            "delete_on_termination": True,
            "groups": ["sg-app"],
        }
    ],
    "block_device_mappings": [
        {
            "device_name": "/dev/xvda",
            "ebs": {
                "volume_size": 8,
                "volume_type": "gp3",
                "encrypted": True,
                "delete_on_termination": True,
            },
        }
    ],
    "user_data": "IyEvYmluL3NoCg==",
}
# describe_launch_template_versions through stockroom.aws.describe (snake_case).
DATA: dict[str, Any] = {
    **{k: v for k, v in WANT.items() if k != "iam_instance_profile"},
    "iam_instance_profile": {"arn": "arn:aws:iam::123456789012:instance-profile/s-app"},
}
NEWEST: dict[str, Any] = {
    "version_number": 2,
    "default_version": True,
    "launch_template_id": "lt-1",
    "launch_template_data": DATA,
}


def test_the_newest_version_as_wanted_does_not_differ() -> None:
    assert launch_template_differs([NEWEST], WANT) is False
    # $Latest and $Default answered as the same version twice.
    assert launch_template_differs([NEWEST, NEWEST], WANT) is False


def test_no_template_differs() -> None:
    assert launch_template_differs([], WANT) is True


def test_another_image_user_data_or_volume_differs() -> None:
    for key, value in (("image_id", "ami-2"), ("user_data", "ZWNobwo=")):
        assert launch_template_differs([NEWEST], {**WANT, key: value}) is True
    bigger = copy.deepcopy(WANT)
    bigger["block_device_mappings"][0]["ebs"]["volume_size"] = 16
    assert launch_template_differs([NEWEST], bigger) is True
    assert launch_template_differs([NEWEST], {**WANT, "monitoring": {"enabled": False}}) is True


def test_a_newer_version_made_by_hand_differs() -> None:
    by_hand = copy.deepcopy(NEWEST)
    by_hand["version_number"] = 3
    by_hand["launch_template_data"]["instance_type"] = "t3.2xlarge"
    assert launch_template_differs([by_hand, NEWEST], WANT) is True


def test_a_default_that_is_not_the_newest_or_another_profile_differs() -> None:
    older_default = {**NEWEST, "version_number": 1}
    assert launch_template_differs([{**NEWEST, "default_version": False}, older_default], WANT)
    other = copy.deepcopy(NEWEST)
    profile = {"arn": "arn:aws:iam::123456789012:instance-profile/other"}
    other["launch_template_data"]["iam_instance_profile"] = profile
    assert launch_template_differs([other], WANT) is True
