"""Connection plugin: tasks in a local podman container, one pipelined `podman exec -i` per task."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleError
from ansible.module_utils.common.process import get_bin_path
from ansible_collections.community.docker.plugins.connection.docker import (
    Connection as DockerCliConnection,
)

DOCUMENTATION = r"""
name: podman_exec
short_description: Run tasks in a local podman container, one pipelined C(podman exec -i) per task
description:
  - community.docker's C(docker) connection (the Docker CLI) with the podman CLI in its place;
    podman takes the same C(exec -i), C(cp) and C(inspect) commands.
  - Why not containers.podman.podman - that connection cannot pipeline, so every task is four
    podman commands (make a temporary directory, copy the module in, run it, remove it) instead of
    one. On this project's 2-core machine that made configuring a node about twice as slow.
  - Used for the image builder container and the local fleet's node containers (roles image_bake and
    local_fleet); pipelining is on by default.
options:
  remote_addr:
    description: The name of the container.
    default: inventory_hostname
    vars:
      - name: inventory_hostname
      - name: ansible_host
  remote_user:
    description: The user to run as inside the container.
    vars:
      - name: ansible_user
    keyword:
      - name: remote_user
  docker_extra_args:
    description: Extra arguments to the podman command line.
    default: ''
    vars:
      - name: ansible_podman_extra_args
  container_timeout:
    description: Seconds to wait for the container's output once a command started.
    default: 10
    type: integer
    vars:
      - name: ansible_podman_timeout
  extra_env:
    description: Extra environment variables for the commands run in the container.
    type: dict
    vars:
      - name: ansible_podman_extra_env
  working_dir:
    description: The directory inside the container to run commands in.
    type: string
    vars:
      - name: ansible_podman_working_dir
  privileged:
    description: Whether commands run with extended privileges.
    type: boolean
    default: false
  pipelining:
    description: Send the module on the exec's standard input (one command per task).
    type: boolean
    default: true
    vars:
      - name: ansible_pipelining
"""


class Connection(DockerCliConnection):
    transport = "stockroom.aws.podman_exec"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        try:
            kwargs.setdefault("docker_command", get_bin_path("podman"))
        except ValueError:
            raise AnsibleError("podman command not found in PATH") from None
        super().__init__(*args, **kwargs)
