"""docs/aws.md's runbook, run as written (issue 20 item 5): every ```sh runbook block, top to
bottom, in one bash shell, against an emulator of its own - a command in the doc that breaks fails
here.

What differs from an operator's shell, and nothing else:
- the endpoint: AWS_ENDPOINT_URL for the AWS CLI, and inventory/aws copied with `aws_endpoint_url`
  added (ANSIBLE_INVENTORY points at the copy; the doc's commands give no -i);
- HOME is the test's own, so the settings file and `aws configure set --profile stockroom` write
  there; the administrator's default profile holds the emulator's dummy key;
- the bake: it needs the podman base image and minutes of configuration, so `ansible-playbook` is a
  shell function that adds `-e stockroom_ami_id=<the emulator's AMI>` to site.yml and image.yml, and
  the test writes the two SSM parameters a bake would have written (current = a second emulator AMI,
  previous = the first) before the doc's commands run. The bake's own writing of them is tested in
  tests/aws/test_bake.py.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from awsstack import AMI, ROOT, Emulator, emulator_server

DOC = ROOT / "docs/aws.md"
BLOCK = re.compile(r"^```sh runbook\n(.*?)^```$", re.M | re.S)


def runbook_blocks() -> list[str]:
    return BLOCK.findall(DOC.read_text())


def test_the_runbook_has_its_steps_in_order() -> None:
    text = "\n".join(runbook_blocks())
    steps = [
        "make setup",
        ". .venv/bin/activate",
        "--policy-document file://docs/iam/operator-policy.json",
        "export AWS_PROFILE=stockroom",
        "ansible-playbook site.yml",
        "ansible-playbook playbooks/image.yml",
        "make images",
        "ansible-playbook playbooks/release.yml",
        "ansible-playbook playbooks/rollback.yml",
        "set-desired-capacity",
        "ansible-playbook playbooks/teardown.yml",
    ]
    where = [text.find(step) for step in steps]
    assert -1 not in where, dict(zip(steps, where, strict=True))
    assert where == sorted(where), dict(zip(steps, where, strict=True))


def test_every_runbook_command_runs_on_the_emulator() -> None:
    blocks = runbook_blocks()
    # Not under pytest's basetemp: other sessions' pytest runs prune old basetemps while this runs.
    with (
        tempfile.TemporaryDirectory(prefix="stockroom-runbook-") as tmp,
        emulator_server(Path(tmp) / "moto.log") as emu,
    ):
        tmp_path = Path(tmp)
        ec2 = emu.client("ec2")
        second = sorted(
            i["ImageId"] for i in ec2.describe_images()["Images"] if i["ImageId"] != AMI
        )[0]
        ssm = emu.client("ssm")
        # What a bake before and the one before it leave (image_bake remember.yml).
        ssm.put_parameter(Name="/stockroom-prod/ami/current", Value=second, Type="String")
        ssm.put_parameter(Name="/stockroom-prod/ami/previous", Value=AMI, Type="String")
        inventory = tmp_path / "inventory"
        (inventory / "group_vars").mkdir(parents=True)
        shutil.copy(ROOT / "inventory/aws/hosts.yml", inventory / "hosts.yml")
        settings = (ROOT / "inventory/aws/group_vars/all.yml").read_text()
        (inventory / "group_vars/all.yml").write_text(settings + f"aws_endpoint_url: {emu.url}\n")
        script = [
            "set -euo pipefail",
            # The bake is replaced (see the module docstring); everything else is the doc's.
            "ansible-playbook() {",
            '  case " $* " in *" site.yml "*|*" playbooks/image.yml "*)',
            f'    command ansible-playbook "$@" -e stockroom_ami_id={AMI} ;;',
            '  *) command ansible-playbook "$@" ;;',
            "  esac",
            "}",
            "export -f ansible-playbook",
        ]
        for n, block in enumerate(blocks, 1):
            script += [f"echo '### runbook block {n}' >&2", block]
        home = tmp_path / "home"
        (home / ".aws").mkdir(parents=True)
        # The administrator's own CLI credentials (the emulator takes any key until IAM is on).
        (home / ".aws/credentials").write_text(
            "[default]\naws_access_key_id = testing\naws_secret_access_key = testing\n"
        )
        script_file = tmp_path / "runbook.sh"
        script_file.write_text("\n".join(script) + "\n")
        path = [p for p in os.environ["PATH"].split(":") if not p.startswith(str(ROOT / ".venv"))]
        env = {
            **{
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("AWS_", "ANSIBLE_", "VIRTUAL_ENV"))
            },
            "PATH": ":".join(path),  # the doc must put ansible-playbook on it
            "HOME": str(home),  # the doc's settings file and the AWS CLI's files go there
            "PYENV_ROOT": os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv")),
            "AWS_ENDPOINT_URL": emu.url,
            "ANSIBLE_INVENTORY": str(inventory),
            "ANSIBLE_NOCOLOR": "1",
        }
        start = time.monotonic()
        proc = subprocess.run(
            ["bash", str(script_file)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        seconds = time.monotonic() - start
        output = proc.stdout + proc.stderr
        (ROOT / "reports").mkdir(exist_ok=True)
        (ROOT / "reports/runbook.log").write_text(output)
        done = re.findall(r"^### runbook block (\d+)$", proc.stderr, re.M)
        last = int(done[-1]) if done else 0
        failed = f"block {last}: {shlex.quote(blocks[last - 1][:200]) if last else ''}"
        assert proc.returncode == 0, f"{failed}\n{output[-5000:]}"
        assert len(done) == len(blocks)
        print(f"runbook: {len(blocks)} blocks in {seconds:.0f} s")
        # The release rolled out current, the rollback previous; teardown kept the final snapshot.
        assert f"release: {second} (from /stockroom-prod/ami/current)" in output
        assert f"rollback: {AMI} (from /stockroom-prod/ami/previous)" in output
        assert "stockroom-prod-db-final-" in output
        assert Emulator  # typed import kept for the helpers' users
