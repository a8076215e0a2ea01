"""instance_architecture: Graviton families (a 'g' right after the generation digits) are arm64."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.stockroom.aws.plugins.filter.instance_types import instance_architecture

ARM64 = [
    "t4g.small", "t4g.nano", "m7g.large", "m7gd.xlarge", "c7g.medium", "c7gn.2xlarge",
    "r8g.large", "r7gd.4xlarge", "m6g.metal", "x2gd.large", "im4gn.large", "is4gen.xlarge",
    "hpc7g.4xlarge", "g5g.xlarge", "i4g.large", "c8gn.large", "a1.medium", "T4G.SMALL",
]  # fmt: skip
X86_64 = [
    "t3.small", "t3a.micro", "t2.micro", "m5.large", "m7i.large", "m7i-flex.large", "m7a.large",
    "c5n.large", "c7i.xlarge", "r6i.large", "g5.xlarge", "g4dn.xlarge", "g4ad.xlarge", "g6e.xlarge",
    "p4d.24xlarge", "inf2.xlarge", "trn1.2xlarge", "x2iedn.xlarge", "z1d.large", "d3en.xlarge",
    "u7i-12tb.224xlarge", "gr6.4xlarge", "u-6tb1.metal",
]  # fmt: skip


@pytest.mark.parametrize("name", ARM64)
def test_graviton_types_are_arm64(name: str) -> None:
    assert instance_architecture(name) == "arm64"


@pytest.mark.parametrize("name", X86_64)
def test_other_types_are_x86_64(name: str) -> None:
    assert instance_architecture(name) == "x86_64"


NOT_TYPES = ["", "t3", "small", "t3-small", "mac2.metal", "mac1.metal", "4g.small"]


@pytest.mark.parametrize("name", NOT_TYPES)
def test_what_is_no_instance_type_fails_naming_it(name: str) -> None:
    with pytest.raises(AnsibleFilterError, match="is not an EC2 instance type"):
        instance_architecture(name)
