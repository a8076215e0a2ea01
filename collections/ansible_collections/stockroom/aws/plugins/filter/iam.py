"""Filters iam_role_differs and policy_differs: would the amazon.aws IAM modules change anything?

Policy documents are compared with amazon.aws's compare_policies, as the modules compare them:
AWS may answer with statements, actions or principals in another order, or a one-element list as a
plain string, and that is no difference.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.amazon.aws.plugins.module_utils.policy import compare_policies


def policy_differs(now: dict[str, Any] | None, want: dict[str, Any]) -> bool:
    """Whether the document as read (none: there is none) differs from the wanted one."""
    return now is None or bool(compare_policies(now, want))


def iam_role_differs(
    role: dict[str, Any] | None,
    want: dict[str, Any],
    attached: list[str] | None = None,
    profiles: list[str] | None = None,
) -> bool:
    """Whether amazon.aws.iam_role (purge_policies, create_instance_profile) would change the role.

    `role` is iam get_role's role (none: not there), `attached` the ARNs of its managed policies,
    `profiles` the names of its instance profiles; `want` holds the module's name, description,
    assume_role_policy_document, tags and managed_policies.
    """
    if not role:
        return True
    return (
        policy_differs(role.get("assume_role_policy_document"), want["assume_role_policy_document"])
        or (role.get("description") or "") != (want.get("description") or "")
        or (role.get("tags") or {}) != (want.get("tags") or {})
        or sorted(attached or []) != sorted(want.get("managed_policies") or [])
        or want["name"] not in (profiles or [])
    )


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"iam_role_differs": iam_role_differs, "policy_differs": policy_differs}
