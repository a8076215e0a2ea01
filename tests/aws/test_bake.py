"""The image bake's parts on the emulator (issue 15 items 3, 11 and 14, issue 20 item 3): the
builder's subnet and name, what the image leaves out, how many images a bake keeps, the AMI
remembered in SSM, the list of AMIs, and the architecture rule.

Each part runs as the bake runs it (the role's own task file, through ansible-playbook) on its own
emulator; the image's clean-up runs in a real container of the project's base image.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from awsstack import AMI, ROOT, Emulator, Run, emulator_server, playbook_env, run_playbook

PODMAN_ENV = {"CONTAINERS_CONF": str(ROOT / "molecule/containers.conf")}
PREFIX = "/stockroom-local/ami"


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with emulator_server(tmp_path_factory.mktemp("bake") / "moto.log") as emulator:
        yield emulator


def run_tasks(
    emu: Emulator, tmp: Path, tasks_from: str, *extra: str, hosts: str = "controller"
) -> Run:
    """One task file of roles/image_bake, run the way image.yml includes it."""
    play = [
        {
            "name": f"image_bake {tasks_from}",
            "hosts": hosts,
            "gather_facts": False,
            "module_defaults": {"group/aws": "{{ aws_connection }}"},
            "tasks": [
                {
                    "name": "Run it",
                    "ansible.builtin.include_role": {
                        "name": "image_bake",
                        "tasks_from": tasks_from,
                        "public": True,
                    },
                },
                {
                    "name": "Show the builder name",
                    "ansible.builtin.debug": {"var": "image_bake_temp_name"},
                },
            ],
        }
    ]
    playbook = tmp / f"{tasks_from}.yml"
    playbook.write_text(yaml.safe_dump(play, sort_keys=False))
    args = [str(ROOT / ".venv/bin/ansible-playbook"), "-i", "inventory/local", str(playbook)]
    args += ["-e", f"@{ROOT / 'group_vars/all.yml'}", "-e", f"roles_path={ROOT / 'roles'}", *extra]
    start = time.monotonic()
    proc = subprocess.run(
        args,
        cwd=ROOT,
        env={**playbook_env(emu), "ANSIBLE_ROLES_PATH": str(ROOT / "roles")},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return Run(proc.returncode, proc.stdout + proc.stderr, time.monotonic() - start)


def test_the_builder_uses_the_stacks_public_subnet_not_the_default_vpc(
    emu: Emulator, tmp_path: Path
) -> None:
    ec2 = emu.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.42.0.0/24")["Subnet"]["SubnetId"]
    ec2.create_tags(Resources=[subnet], Tags=[{"Key": "Name", "Value": "stockroom-local-public-a"}])
    run = run_tasks(emu, tmp_path, "subnet")
    assert run.rc == 0, run.output[-3000:]
    assert f"builder subnet {subnet} in {vpc}" in run.output


def test_two_environments_never_remove_each_others_builder(emu: Emulator, tmp_path: Path) -> None:
    ec2 = emu.client("ec2")
    names = {}
    for env in ("local", "staging"):
        run = run_tasks(emu, tmp_path, "subnet", "-e", f"stockroom_env={env}")
        assert run.rc == 0, run.output[-3000:]
        names[env] = run.output.split('"image_bake_temp_name": "')[1].split('"')[0]
    assert names == {
        "local": "stockroom-local-image-builder",
        "staging": "stockroom-staging-image-builder",
    }
    tags = [{"Key": "Name", "Value": names["local"]}, {"Key": "Purpose", "Value": "image-bake"}]
    builder = ec2.run_instances(
        ImageId=AMI,
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
    )["Instances"][0]["InstanceId"]
    staging = run_tasks(emu, tmp_path, "cleanup", "-e", "stockroom_env=staging")
    assert staging.rc == 0, staging.output[-3000:]
    state = ec2.describe_instances(InstanceIds=[builder])["Reservations"][0]["Instances"][0]
    assert state["State"]["Name"] == "running"
    local = run_tasks(emu, tmp_path, "cleanup")
    assert local.rc == 0, local.output[-3000:]
    state = ec2.describe_instances(InstanceIds=[builder])["Reservations"][0]["Instances"][0]
    assert state["State"]["Name"] in ("shutting-down", "terminated")


def test_a_bake_keeps_the_newest_images_and_those_templates_name(
    emu: Emulator, tmp_path: Path
) -> None:
    ec2 = emu.client("ec2")
    instance = ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    made = []
    for n in range(7):
        image = ec2.create_image(InstanceId=instance, Name=f"stockroom-1.0-{n}")["ImageId"]
        ec2.create_tags(Resources=[image], Tags=[{"Key": "Project", "Value": "stockroom"}])
        made.append(image)
        time.sleep(1.1)  # creation dates one second apart
    # The oldest is still what a launch template (another environment's) names.
    ec2.create_launch_template(
        LaunchTemplateName="stockroom-staging-app", LaunchTemplateData={"ImageId": made[0]}
    )
    snapshots = {
        i["ImageId"]: [m["Ebs"]["SnapshotId"] for m in i["BlockDeviceMappings"] if "Ebs" in m]
        for i in ec2.describe_images(ImageIds=made)["Images"]
    }
    # ... and one is what this environment's AMI parameter names (previous: the rollback target).
    emu.client("ssm").put_parameter(
        Name="/stockroom-local/ami/previous", Value=made[2], Type="String", Overwrite=True
    )
    run = run_tasks(emu, tmp_path, "retention", "-e", "image_bake_keep=4")
    emu.client("ssm").delete_parameter(Name="/stockroom-local/ami/previous")
    assert run.rc == 0, run.output[-3000:]
    left = {i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]} & set(made)
    assert left == {made[0], *made[2:]}
    gone = {s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]}
    assert snapshots[made[1]] and not set(snapshots[made[1]]) & gone


@pytest.fixture
def builder() -> Iterator[str]:
    """A container of the project's base image, with what a bake leaves on a builder."""
    image = subprocess.run(
        ["scripts/base-image.sh", "bookworm"],
        cwd=ROOT,
        env={**os.environ, **PODMAN_ENV},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()[-1]
    name = "stockroom-test-generalize"
    podman = ["podman"]
    env = {**os.environ, **PODMAN_ENV}
    subprocess.run([*podman, "rm", "-f", name], env=env, capture_output=True, check=False)
    subprocess.run(
        [*podman, "run", "-d", "--name", name, image, "sleep", "infinity"],
        env=env,
        capture_output=True,
        check=True,
    )
    setup = (
        "echo 0123456789abcdef0123456789abcdef > /etc/machine-id"
        " && mkdir -p /home/admin/.ssh /var/lib/cloud/instances/i-1 /var/lib/dbus"
        " && echo 'ssh-ed25519 AAAA bake' > /home/admin/.ssh/authorized_keys"
        " && cp /etc/machine-id /var/lib/dbus/machine-id && touch /var/log/cloud-init.log"
    )
    subprocess.run([*podman, "exec", name, "sh", "-c", setup], env=env, check=True)
    try:
        yield name
    finally:
        subprocess.run([*podman, "rm", "-f", name], env=env, capture_output=True, check=False)


def test_the_image_leaves_out_machine_id_bake_key_and_cloud_init_state(
    emu: Emulator, tmp_path: Path, builder: str
) -> None:
    inventory = tmp_path / "builder.yml"
    inventory.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "hosts": {
                        builder: {
                            "ansible_connection": "containers.podman.podman",
                            "ansible_python_interpreter": "/usr/bin/python3",
                        },
                        "controller": {"ansible_connection": "local"},
                    }
                }
            }
        )
    )
    run = run_tasks(
        emu, tmp_path, "generalize", "-i", str(inventory), "-e", "image_bake_ssh_user=admin",
        hosts=builder,
    )  # fmt: skip
    assert run.rc == 0, run.output[-3000:]
    env = {**os.environ, **PODMAN_ENV}
    check = (
        "test ! -s /etc/machine-id && test ! -e /var/lib/dbus/machine-id"
        " && test ! -e /home/admin/.ssh/authorized_keys && test ! -e /var/lib/cloud"
        " && test ! -e /var/log/cloud-init.log && echo clean"
    )
    out = subprocess.run(
        ["podman", "exec", builder, "sh", "-c", check],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.stdout.strip() == "clean", out.stderr


def test_the_aws_bake_installs_the_ssm_agent_and_asserts_it_before_the_ami() -> None:
    """The AWS builder cannot run here; what can be checked is that the bake does it, in order."""
    plays = yaml.safe_load((ROOT / "playbooks/image.yml").read_text())
    configure = plays[1]
    assert (
        configure.get("ignore_unreachable") is True
    )  # an unreachable builder still gets cleaned up
    names = [t["name"] for t in configure["tasks"][0]["block"]]
    ssm = names.index("Install the SSM agent (AWS bake; asserted enabled)")
    assert names.index("Apply the app role in bake mode") < ssm < names.index("Record success")
    tasks = yaml.safe_load((ROOT / "roles/image_bake/tasks/ssm_agent.yml").read_text())
    assert tasks[0]["ansible.builtin.apt"]["deb"] == "{{ image_bake_ssm_agent_url }}"
    assert "enabled" in tasks[-1]["ansible.builtin.assert"]["that"]
    assert "ansible.builtin.service_facts" in tasks[-2]
    defaults = yaml.safe_load((ROOT / "roles/image_bake/defaults/main.yml").read_text())
    assert defaults["image_bake_ssm_agent_url"].startswith(
        "https://s3.{{ aws_region }}.amazonaws.com/amazon-ssm-{{ aws_region }}/latest/debian_"
    )


def parameters(emu: Emulator) -> dict[str, str]:
    found = emu.client("ssm").get_parameters_by_path(Path=PREFIX)["Parameters"]
    return {p["Name"].rsplit("/", 1)[1]: p["Value"] for p in found}


def test_each_bake_remembers_its_ami_and_keeps_the_one_before(
    emu: Emulator, tmp_path: Path
) -> None:
    """remember.yml (finish.yml runs it after tagging the AMI): current, the one before previous."""
    first = run_tasks(emu, tmp_path, "remember", "-e", "image_bake_ami_id=ami-0000000000000001a")
    assert first.rc == 0, first.output[-3000:]
    assert parameters(emu) == {"current": "ami-0000000000000001a"}
    second = run_tasks(emu, tmp_path, "remember", "-e", "image_bake_ami_id=ami-0000000000000002b")
    assert second.rc == 0, second.output[-3000:]
    assert parameters(emu) == {
        "current": "ami-0000000000000002b",
        "previous": "ami-0000000000000001a",
    }
    assert "/stockroom-local/ami/previous=ami-0000000000000001a" in second.output
    again = run_tasks(emu, tmp_path, "remember", "-e", "image_bake_ami_id=ami-0000000000000002b")
    assert (again.rc, again.recap["changed"]) == (0, 0), again.output[-3000:]
    tags = emu.client("ssm").list_tags_for_resource(
        ResourceType="Parameter", ResourceId="/stockroom-local/ami/current"
    )["TagList"]
    assert {t["Key"]: t["Value"] for t in tags} == {"Project": "stockroom", "Environment": "local"}
    ssm = emu.client("ssm")
    ssm.delete_parameters(Names=[f"{PREFIX}/current", f"{PREFIX}/previous"])


def test_the_list_of_amis_marks_current_and_previous(emu: Emulator) -> None:
    ec2, ssm = emu.client("ec2"), emu.client("ssm")
    instance = ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    made = []
    for n in range(3):
        image = ec2.create_image(InstanceId=instance, Name=f"stockroom-9.9-list{n}")["ImageId"]
        ec2.create_tags(
            Resources=[image],
            Tags=[{"Key": "Project", "Value": "stockroom"}, {"Key": "Version", "Value": "9.9"}],
        )
        made.append(image)
        time.sleep(1.1)
    ssm.put_parameter(Name="/stockroom-local/ami/current", Value=made[2], Type="String")
    ssm.put_parameter(Name="/stockroom-local/ami/previous", Value=made[1], Type="String")
    try:
        run = run_playbook(emu, "playbooks/images.yml")
    finally:
        ssm.delete_parameters(Names=[f"{PREFIX}/current", f"{PREFIX}/previous"])
    assert run.rc == 0, run.output[-3000:]
    listed = [line.strip() for line in run.output.splitlines() if '"ami-' in line]
    lines = {line.split()[0].strip('"'): line for line in listed}
    assert lines[made[2]].rstrip('",').endswith("<- current"), lines
    assert lines[made[1]].rstrip('",').endswith("<- previous"), lines
    assert "<-" not in lines[made[0]] and "stockroom-9.9-list0" in lines[made[0]]
    assert "version=9.9" in lines[made[0]]
    order = [line.split()[0].strip('"') for line in listed]
    assert [i for i in order if i in made] == made[::-1]  # newest first


ARM = ("-e", "image_bake_architecture=arm64")
REFUSED_T3 = (
    "image_bake_instance_type=t3.small is an x86_64 instance type,"
    " but image_bake_architecture is arm64"
)
REFUSED_M7G = (
    "aws_compute_instance_type=m7g.large is an arm64 instance type,"
    " but image_bake_architecture is x86_64"
)


@pytest.mark.parametrize(
    ("extra", "refused"),
    [
        (ARM, None),  # the t4g.small builder
        ((*ARM, "-e", "image_bake_instance_type=t3.small"), REFUSED_T3),
        (("-e", "aws_compute_instance_type=m7g.large"), REFUSED_M7G),
        ((*ARM, "-e", "aws_compute_instance_type=c7g.large"), None),
        (
            ("-e", "image_bake_architecture=aarch64"),
            "image_bake_architecture must be x86_64 or arm64",
        ),
    ],
)
def test_the_architecture_refuses_an_instance_type_of_the_other_family(
    emu: Emulator, tmp_path: Path, extra: tuple[str, ...], refused: str | None
) -> None:
    run = run_tasks(emu, tmp_path, "validate", "-e", f"image_bake_app_dir={ROOT / 'app'}", *extra)
    if refused is None:
        assert run.rc == 0, run.output[-3000:]
    else:
        assert run.rc != 0 and refused in " ".join(run.output.split()), run.output[-3000:]


def test_the_source_ami_follows_the_architecture() -> None:
    defaults = yaml.safe_load((ROOT / "roles/image_bake/defaults/main.yml").read_text())
    assert defaults["image_bake_architecture"] == "x86_64"
    assert "arm64" in defaults["image_bake_source_ami_name_pattern"]
    assert "amd64" in defaults["image_bake_source_ami_name_pattern"]
    builder = (ROOT / "roles/image_bake/tasks/builder.yml").read_text()
    assert "{'architecture': image_bake_architecture}" in builder
