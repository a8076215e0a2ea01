"""Unit tests of the stockroom.aws plugins: plain pytest, no Ansible run.

The collection is found the way ansible.cfg's collections_path finds it, so filters import as
ansible_collections.stockroom.aws.plugins.filter.* and lookups load by FQCN with their options.
"""

from __future__ import annotations

from pathlib import Path

from ansible.plugins.loader import init_plugin_loader

COLLECTIONS = Path(__file__).resolve().parents[5]
init_plugin_loader([str(COLLECTIONS)])
