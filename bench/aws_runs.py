"""Time site.yml on a fresh AWS emulator: fresh run, rerun, then teardown, per round and checkout.

Usage (from the repository root):
    .venv/bin/python bench/aws_runs.py --rounds 3 [--before /tmp/aws-before] [--profile DIR]

Each round starts its own moto server on a free loopback port, runs site.yml on it (fresh stack),
then again (rerun, must report changed=0), then playbooks/teardown.yml, and stops the server.
With --before (another checkout, e.g. `git worktree add /tmp/aws-before <commit>`) every round
runs both checkouts, alternating which goes first; with --https every round also runs the
checkout with HTTPS, DNS and the WAF on (side "https": a hosted zone made on its emulator,
-e stockroom_domain, -e aws_compute_waf=true), so load from other sessions falls on both sides
alike. Each round holds the machine's
timing lock (/work/notes/bench.lock) and records the 1-minute load average before and after each
run, and the CPU seconds of ansible-playbook and the processes it waited for (not background jobs,
not the emulator).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests/aws"))
from awsstack import Emulator, base_args, emulator_server, playbook_env  # noqa: E402

LOCK = Path("/work/notes/bench.lock")


def load() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


@contextlib.contextmanager
def timing_lock() -> Iterator[None]:
    """The machine-wide lock other sessions' benchmarks take too (see /work/notes/common.md)."""
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with LOCK.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


TASK = re.compile(r"^TASK \[(?:(\w+) : )?")
# profile_tasks prints, under each task's header, how long the task before it took.
ELAPSED = re.compile(r"^\w+ \d+ \w+ \d+\s+[\d:]+ \S+ \((\d+):(\d+):([\d.]+)\)")


def seconds_by_role(output: str) -> dict[str, float]:
    """Task time per role (profile_tasks), 'other' for tasks outside the aws_* roles."""
    sums: dict[str, float] = {}
    previous = current = None
    for line in output.splitlines():
        if m := TASK.match(line):
            current = m[1] if m[1] and m[1].startswith("aws_") else "other"
        elif m := ELAPSED.match(line):
            if previous is not None:
                took = int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3])
                sums[previous] = sums.get(previous, 0.0) + took
            previous = current
    return {k: round(v, 1) for k, v in sorted(sums.items())}


# The side "https" (--https): what the certificate, the records and the web ACL add to a run.
HTTPS_ZONE = "example.com"
HTTPS_EXTRA = ("-e", f"stockroom_domain=stock.{HTTPS_ZONE}", "-e", "aws_compute_waf=true")


def run_site(
    checkout: Path,
    emu: Emulator,
    profile: Path | None,
    extra: tuple[str, ...] = (),
    playbook: str = "site.yml",
) -> dict[str, object]:
    # The tests' command line and environment, with the checkout's own ansible.cfg.
    env = {
        **playbook_env(emu),
        "ANSIBLE_CONFIG": str(checkout / "ansible.cfg"),
        "PROFILE_TASKS_TASK_OUTPUT_LIMIT": "all",
    }
    args = base_args(playbook, *extra)
    load_before = load()
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.run(args, cwd=checkout, env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - start
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    output = proc.stdout + proc.stderr
    if profile is not None:
        profile.write_text(output)
    recap = re.search(r"^localhost\s+:\s+(.*)$", output, re.M)
    counts = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", recap.group(1))} if recap else {}
    if proc.returncode != 0:
        print(output[-3000:], file=sys.stderr)
    return {
        "rc": proc.returncode,
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu, 1),
        "changed": counts.get("changed"),
        "by_role": seconds_by_role(output),
        "load_before": load_before,
        "load_after": load(),
    }


def one_side(name: str, checkout: Path, tag: str, profile_dir: Path | None) -> dict[str, object]:
    with (
        tempfile.TemporaryDirectory(prefix="aws_runs-") as tmp,
        emulator_server(Path(tmp) / "moto.log") as emu,
    ):
        result: dict[str, object] = {"side": name}
        extra: tuple[str, ...] = ()
        if name == "https":
            emu.client("route53").create_hosted_zone(Name=HTTPS_ZONE, CallerReference=tag)
            extra = HTTPS_EXTRA
        for phase in ("fresh", "rerun", "teardown"):
            profile = profile_dir / f"{tag}-{phase}.txt" if profile_dir else None
            playbook = "playbooks/teardown.yml" if phase == "teardown" else "site.yml"
            result[phase] = r = run_site(checkout, emu, profile, extra, playbook)
            print(
                f"  {name:6} {phase:8} {r['seconds']:6.1f} s  cpu {r['cpu_seconds']:5.1f} s"
                f"  changed={r['changed']}  rc={r['rc']}"
                f"  load {r['load_before']:.2f} -> {r['load_after']:.2f}",
                flush=True,
            )
            print(f"         {r['by_role']}", flush=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--after", type=Path, default=ROOT, help="checkout under test (this one)")
    parser.add_argument("--before", type=Path, help="checkout to compare with, in the same rounds")
    parser.add_argument("--profile", type=Path, help="keep each run's output (profile_tasks) here")
    parser.add_argument("--json", type=Path, help="write every figure here")
    parser.add_argument(
        "--https", action="store_true", help="also run the checkout with a domain and the WAF"
    )
    opts = parser.parse_args()
    sides = [("after", opts.after.resolve())]
    if opts.before:
        sides.append(("before", opts.before.resolve()))
    if opts.https:
        sides.append(("https", opts.after.resolve()))
    if opts.profile:
        opts.profile.mkdir(parents=True, exist_ok=True)
    results = []
    for n in range(opts.rounds):
        order = sides if n % 2 == 0 else sides[::-1]
        stamp = time.strftime("%H:%M:%S", time.gmtime())
        print(f"round {n + 1}/{opts.rounds}  {stamp} UTC", flush=True)
        with timing_lock():
            for name, checkout in order:
                side = one_side(name, checkout, f"{name}-{n + 1}", opts.profile)
                results.append({"round": n + 1, **side})
    print("\nmedian (s)    fresh   rerun  teardown")
    for name, _ in sides:
        mine = [r for r in results if r["side"] == name]
        fresh, rerun, teardown = (
            statistics.median(r[phase]["seconds"] for r in mine)  # type: ignore[index]
            for phase in ("fresh", "rerun", "teardown")
        )
        print(f"  {name:10} {fresh:6.1f}  {rerun:6.1f}  {teardown:8.1f}")
    if opts.json:
        opts.json.write_text(json.dumps(results, indent=2) + "\n")
    bad = [
        r
        for r in results
        if r["fresh"]["rc"] or r["rerun"]["rc"] or r["rerun"]["changed"] or r["teardown"]["rc"]  # type: ignore[index]
    ]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
