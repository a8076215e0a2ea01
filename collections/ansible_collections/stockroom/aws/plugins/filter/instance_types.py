"""Filter instance_architecture: the CPU architecture an EC2 instance type runs (x86_64 or arm64).

The rule is AWS's naming convention for instance types ("Amazon EC2 instance type naming
conventions", https://docs.aws.amazon.com/ec2/latest/instancetypes/instance-type-names.html): the
name is `<family><generation><capabilities>.<size>`, and the capability letter `g` right after the
generation digit(s) means AWS Graviton (Arm) processors - t4g, m7g, c7gn, r8gd, im4gn, is4gen, x2gd,
hpc7g, g5g. The first Arm family, A1 (Graviton 1), predates the convention. Everything else is
x86_64 (Intel `i`, AMD `a`, or no processor letter: t3, m5, c7i, m7a, g5, p4d...). Mac instances are
macOS-only and refused (no Debian AMI runs on them).
"""

from __future__ import annotations

import re
from typing import Any

from ansible.errors import AnsibleFilterError

# family letters, generation digits, then the capability letters (may be empty), a dot, the size
_NAME = re.compile(
    r"^(?P<family>[a-z]+)(?P<generation>[0-9]+)(?P<capabilities>[a-z0-9-]*)\.[a-z0-9-]+$"
)
# The first High Memory types predate the convention: u-6tb1.metal, u-12tb1.112xlarge.
_HIGH_MEMORY = re.compile(r"^u-[0-9]+tb[0-9]*\.[a-z0-9]+$")


def instance_architecture(instance_type: Any) -> str:
    """'arm64' for a Graviton instance type, 'x86_64' for any other; an error for no type."""
    name = str(instance_type).strip().lower()
    if _HIGH_MEMORY.match(name):
        return "x86_64"
    m = _NAME.match(name)
    if not m or m["family"] == "mac":
        raise AnsibleFilterError(
            f"instance_architecture: '{instance_type}' is not an EC2 instance type this stack runs"
            " (expected <family><generation>[capabilities].<size>, e.g. t3.small or t4g.small)"
        )
    if m["family"] == "a" and m["generation"] == "1":
        return "arm64"
    return "arm64" if m["capabilities"].startswith("g") else "x86_64"


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"instance_architecture": instance_architecture}
