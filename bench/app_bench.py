"""make bench-app: gunicorn + MariaDB with 100 000 seeded items, measured with wrk.

Scenarios (32 connections unless stated): GET item, a list with a filter (also at 4 connections
and with the page cache off), stock movements, a mixed load (90 % reads, 10 % movements), and a
minimal Flask + raw PyMySQL baseline (get row by id, list page) in the same rounds. After every
run with movements the database is checked for lost updates. ``--against DIR`` adds another
checkout's app (an older commit) to the same rounds. Writes the "## App service" section of
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import pymysql
import requests

ROOT = Path(__file__).resolve().parents[1]
LOAD_BEFORE = f"{os.getloadavg()[0]:.1f}"


def loop_ms() -> float:
    """Machine speed right now: best of 3 runs of a fixed pure-Python loop, in ms. This shared
    machine's speed changes by 2-3x over a day; the figure says which kind of day a run had."""
    best = float("inf")
    for _ in range(3):
        started, total = time.perf_counter(), 0
        for i in range(2_000_000):
            total += i
        best = min(best, time.perf_counter() - started)
    return best * 1000


LOOP_BEFORE = loop_ms()
BENCH = ROOT / "bench"
BIN = Path(sys.executable).parent
DOC = ROOT / "docs" / "benchmarks.md"
ANALYSIS = """\
Where the time goes (cProfile and py-spy of the app, CPU time of the processes during the runs,
MariaDB's ANALYZE). Building a list page costs about as much MariaDB CPU as app CPU: MariaDB builds
the page's JSON in one row (GROUP_CONCAT of JSON_OBJECT: walking the (category, sku) index past the
offset, joining the 50 rows, the JSON) and the app runs the prebuilt statement as SQL text on a
connection of an autocommit pool. With 32 closed-loop connections on 2 cores that also run MariaDB
and wrk, latency is queueing: p50 is about 32 / throughput, so a lower p99 needs less CPU per
request. The page cache gives that: each process keeps the pages it built and serves one again
after one small query (SUM over the 64 item_changes counter rows that every writing transaction
bumps) shows that nothing changed. The "page cache off" row is the same server with
STOCKROOM_LIST_CACHE_MB=0, i.e. every request building its page, which is also what a list costs
right after a write. The mixed scenario is reads and writes at once: every movement (a tenth of
its requests) makes every cached page stale, so its list requests mostly build their pages and
its movements wait for the reads' CPU; it is the figure to expect from a busy stockroom. The p99
tail that is left is the machine's: the raw PyMySQL get-by-id baseline, the smallest possible
request, shows a similar p99 in the same run, and at 4 connections p99 is many times p50. A
movement is three round trips as SQL text on a connection of its own (an UPDATE that applies the
delta, bumps the item's change counter and reports the new quantity through LAST_INSERT_ID(expr);
INSERT; COMMIT with a redo-log flush). gunicorn runs with --reuse-port (one socket per worker; on a
shared socket one worker took most of wrk's keep-alive connections) and 4 threads per worker (8
gave the same req/s with a longer tail)."""
GET_BASE = "baseline: raw PyMySQL get row by id"
GET = "GET /api/v1/items/{id}"
LIST_BASE = "baseline: raw PyMySQL list page (same filter, 14 columns, jsonify)"
LIST = "GET /api/v1/items?category=…&page=1..20"
LIST_4 = "same list, 4 connections (latency without queueing)"
LIST_OFF = "same list, page cache off (every request builds its page)"
MIXED = "mixed: 45 % list, 45 % GET item, 10 % movements"
MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
BEFORE = " [--against]"


class Scenario(NamedTuple):
    label: str
    url: str
    script: str
    extra: dict[str, str]
    conns: int = 32
    writes: bool = False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ok(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code in (200, 404):
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"bench: {url} did not come up")


def gunicorn(
    app: str, port: int, env: dict[str, str], workers: int, threads: int
) -> subprocess.Popen[bytes]:
    cmd = [str(BIN / "gunicorn"), "-b", f"127.0.0.1:{port}", "-w", str(workers)]
    cmd += ["-k", "gthread", "--threads", str(threads), "--backlog", "2048"]
    # Each worker listens on its own SO_REUSEPORT socket and the kernel spreads new connections
    # across them. On one shared socket the first worker to wake accepts most of wrk's 32
    # keep-alive connections (32/0 was seen) and becomes the bottleneck for the whole run.
    cmd += ["--reuse-port", app]
    return subprocess.Popen(
        cmd,
        env={**os.environ, **env},
        cwd=BENCH,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wrk(
    url: str, script: str, seconds: int, env: dict[str, str], conns: int = 32
) -> dict[str, Any]:
    cmd = ["wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "--latency", "-s", str(BENCH / script), url]
    out = subprocess.run(
        cmd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    lat = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    extra = dict(re.findall(r"^(BENCH_\w+) (\d+)$", out, re.M))
    return {
        "rps": rps,
        "p50": to_ms(lat["50"]),
        "p99": to_ms(lat["99"]),
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(0) if errors else "",
        "extra": {k: int(v) for k, v in extra.items()},
    }


def to_ms(value: str) -> float:
    num, unit = re.match(r"([\d.]+)(\w+)", value).groups()  # type: ignore[union-attr]
    return float(num) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def sql(db: str, query: str, args: Any = None) -> Any:
    conn = pymysql.connect(**MARIADB, database=db)
    try:
        with conn.cursor() as cur:
            cur.execute(query, args)
            return cur.fetchall()
    finally:
        conn.close()


def moved(db: str, hot: int, scenario: Scenario, seconds: int, env: dict[str, str]) -> Any:
    """Run a scenario that posts +1 movements on items 1..hot, then check that every movement
    row written is matched by one unit of quantity (a lost update breaks that)."""
    qty = "SELECT COALESCE(SUM(quantity), 0) FROM items WHERE id <= %s"
    before_qty = sql(db, qty, (hot,))[0][0]
    before_max = sql(db, "SELECT COALESCE(MAX(id), 0) FROM movements")[0][0]
    run = wrk(scenario.url, scenario.script, seconds, env, scenario.conns)
    time.sleep(2)  # wrk stops with requests in flight: let the server finish them first
    rows, deltas = sql(
        db,
        "SELECT COUNT(*), COALESCE(SUM(delta), 0) FROM movements WHERE id > %s",
        (before_max,),
    )[0]
    created = run["extra"].get("BENCH_CREATED", -1)
    run["check"] = {
        "201 responses seen by wrk": created,
        "movement rows written": int(rows),
        # Lost update = a movement recorded (and answered 201) whose +1 is not in the quantity.
        "lost updates": int(deltas) - int(sql(db, qty, (hot,))[0][0] - before_qty),
    }
    # wrk cuts off at most one in-flight request per connection, which the server completes.
    run["ok"] = run["check"]["lost updates"] == 0 and created <= rows <= created + scenario.conns
    return run


def start_servers(
    name: str, env: dict[str, str], args: Any, procs: list[subprocess.Popen[bytes]]
) -> dict[str, str]:
    """gunicorn for the app, the app with its page cache off, the baseline and (--against) the
    other checkout's app; returns their URLs once they answer."""
    servers = {
        "app": ("stockroom.wsgi:app", env),
        "off": ("stockroom.wsgi:app", {**env, "STOCKROOM_LIST_CACHE_MB": "0"}),
        "base": ("baseline_app:app", {"BASELINE_DB_NAME": name}),
    }
    if args.against:
        src = str(args.against.resolve() / "app" / "src")
        servers["before"] = ("stockroom.wsgi:app", {**env, "PYTHONPATH": src})
    urls = {}
    for key, (wsgi, server_env) in servers.items():
        port = free_port()
        procs.append(gunicorn(wsgi, port, server_env, args.workers, args.threads))
        urls[key] = f"http://127.0.0.1:{port}"
    for key, url in urls.items():
        wait_ok(url + ("/items/1" if key == "base" else "/readyz"))
    return urls


def scenarios_for(urls: dict[str, str], hot: int) -> list[Scenario]:
    base = urls["base"]
    scenarios = [
        Scenario(GET_BASE, base, "get_item.lua", {"BENCH_PREFIX": "/items/"}),
        Scenario(LIST_BASE, base, "list_items.lua", {"BENCH_PREFIX": "/items"}),
        Scenario(LIST_OFF, urls["off"], "list_items.lua", {}),
    ]
    for label, script, extra, conns, writes in [
        (GET, "get_item.lua", {}, 32, False),
        (LIST, "list_items.lua", {}, 32, False),
        (LIST_4, "list_items.lua", {}, 4, False),
        (f"POST movements (+1 on {hot} hot items)", "mixed.lua", {"BENCH_WRITES": "100"}, 32, True),
        (MIXED, "mixed.lua", {"BENCH_WRITES": "10"}, 32, True),
    ]:
        scenarios.append(Scenario(label, urls["app"], script, extra, conns, writes))
        if "before" in urls:
            scenarios.append(Scenario(label + BEFORE, urls["before"], script, extra, conns, writes))
    return scenarios


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=5, help="every scenario runs this often")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--hot-items", type=int, default=50)
    parser.add_argument(
        "--against",
        type=Path,
        help="another checkout (e.g. a git worktree of an older commit): its app runs the same "
        "app scenarios on the same database, in alternating turns, and the report compares them",
    )
    parser.add_argument("--no-doc", action="store_true", help="do not write docs/benchmarks.md")
    parser.add_argument("--note", default="", help="a remark recorded with the results")
    args = parser.parse_args()

    name = f"srbench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = pymysql.connect(**MARIADB, autocommit=True)
    admin.cursor().execute(
        f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
    )
    env = {
        "STOCKROOM_ENV": "production",
        "STOCKROOM_SECRET_KEY": uuid.uuid4().hex * 2,
        "STOCKROOM_DATABASE_URL": f"mysql+pymysql://root@127.0.0.1:3306/{name}",
        "STOCKROOM_LOG_LEVEL": "WARNING",
    }
    procs: list[subprocess.Popen[bytes]] = []
    try:
        cli = [str(BIN / "stockroom")]
        run_env = {**os.environ, **env}
        subprocess.run([*cli, "db", "upgrade"], env=run_env, check=True, capture_output=True)
        started = time.monotonic()
        subprocess.run([*cli, "seed", "--items", str(args.items)], env=run_env, check=True)
        seed_s = time.monotonic() - started
        subprocess.run(
            [*cli, "user", "create", "bench", "--role", "editor", "--password-stdin"],
            env=run_env, input=b"bench-password\n", check=True, capture_output=True,
        )  # fmt: skip
        token = (
            subprocess.run(
                [*cli, "token", "create", "bench"],
                env=run_env,
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )

        settle_mariadb()
        urls = start_servers(name, env, args, procs)
        wenv = {
            "BENCH_TOKEN": token,
            "BENCH_MAX_ID": str(args.items),
            "BENCH_HOT_ITEMS": str(args.hot_items),
        }
        scenarios = scenarios_for(urls, args.hot_items)
        for key, url in urls.items():
            if key != "base":
                wrk(url, "get_item.lua", 3, wenv, 32)  # warm-up
        # This machine's speed drifts from minute to minute (shared host), so the scenarios run
        # in turn, several rounds, and each reports its median round: a ratio then compares
        # runs made under the same conditions. With --against, the two apps of a pair take
        # turns going first.
        runs: dict[str, list[dict[str, Any]]] = {s.label: [] for s in scenarios}
        for round_no in range(1, args.rounds + 1):
            order = scenarios if round_no % 2 else _swap_pairs(scenarios)
            for sc in order:
                senv = {**wenv, **sc.extra}
                if sc.writes:
                    run = moved(name, args.hot_items, sc, args.seconds, senv)
                else:
                    wrk(sc.url, sc.script, 2, senv, sc.conns)  # warm: pools full, pages cached
                    run = wrk(sc.url, sc.script, args.seconds, senv, sc.conns)
                runs[sc.label].append(run)
                print(f"bench: round {round_no}: {sc.label}: {run['rps']:.0f} req/s", flush=True)
        report(runs, args, seed_s)
        if not all(r.get("ok", True) for rs in runs.values() for r in rs):
            raise SystemExit("bench: LOST UPDATES or inconsistent movements")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=15)
        admin.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


def _swap_pairs(scenarios: list[Scenario]) -> list[Scenario]:
    out = list(scenarios)
    for i, sc in enumerate(out):
        if sc.label.endswith(BEFORE):
            out[i - 1], out[i] = sc, out[i - 1]
    return out


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {**sorted(runs, key=lambda run: run["rps"])[len(runs) // 2], "rounds": runs}


def _ratio(a: dict[str, Any], b: dict[str, Any]) -> float:
    """Median of the per-round req/s ratios (runs seconds apart, under the same conditions)."""
    pairs = zip(a["rounds"], b["rounds"], strict=True)
    return statistics.median(x["rps"] / y["rps"] for x, y in pairs)


def report(runs: dict[str, list[dict[str, Any]]], args: Any, seed_s: float) -> None:
    results = {label: _median(r) for label, r in runs.items()}
    get, lst = results[GET], results[LIST]
    mv = next(v for k, v in results.items() if k.startswith("POST movements"))
    ratio = _ratio(get, results[GET_BASE])
    list_ratio = _ratio(lst, results[LIST_BASE])
    off_ratio = _ratio(results[LIST_OFF], results[LIST_BASE])
    checks = [r["check"] for rs in runs.values() for r in rs if "check" in r]
    lost = sum(c["lost updates"] for c in checks)
    ok = all(r.get("ok", True) for rs in runs.values() for r in rs)
    lines = [
        "## App service",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `make bench-app` on this machine "
        f"({os.cpu_count()} cores shared by gunicorn, MariaDB and wrk; load average before the "
        f"run {LOAD_BEFORE}, after {os.getloadavg()[0]:.1f}; a fixed 2M-step Python loop "
        f"took {LOOP_BEFORE:.0f} ms before and {loop_ms():.0f} ms after, lower is faster). "
        f"gunicorn {args.workers} workers x {args.threads} threads (gthread, `--reuse-port`), "
        f"MariaDB {mariadb_version()}, {args.items:,} seeded "
        f"items (seeded in {seed_s:.1f} s), wrk 2 threads / 32 connections / {args.seconds} s "
        f"per run unless stated. Every scenario ran in turn for {args.rounds} rounds; each row is "
        "its median round (by req/s), the last column shows every round. Write scenarios "
        f"(movements, mixed) post +1 movements on items 1-{args.hot_items}; after each run the "
        "movement rows written must match the quantity added (no lost update).",
        "",
        "Reproduce: `make bench-app` (about 10 minutes) rewrites this section; "
        "`scripts/bench-app.sh --against <checkout>` (e.g. `git worktree add /tmp/base <commit>`) "
        "also runs that checkout's app in the same rounds and adds a comparison table; `--help` "
        "lists the knobs.",
    ]
    if args.note:
        lines += ["", f"Note: {args.note}"]
    lines += [
        "",
        "| Scenario | req/s | p50 ms | p99 ms | non-2xx | req/s of each round |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for label, r in results.items():
        each = ", ".join(f"{run['rps']:.0f}" for run in r["rounds"])
        lines.append(
            f"| {label} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p99']:.1f} | {r['non2xx']} "
            f"| {each} |"
        )
    goal = lambda passed: "met" if passed else "**missed**"  # noqa: E731
    lines += [
        "",
        "| Goal | Target | Measured | |",
        "|---|---|---|---|",
        f"| GET item vs baseline (median of per-round ratios) | ≥ 0.6x | {ratio:.2f}x "
        f"| {goal(ratio >= 0.6)} |",
        f"| List with filter p99 | < 50 ms | {lst['p99']:.1f} ms | {goal(lst['p99'] < 50)} |",
        f"| List vs baseline list page (median of per-round ratios) | - | {list_ratio:.2f}x | |",
        f"| List, page cache off, vs baseline list page | - | {off_ratio:.2f}x | |",
        f"| Movements | ≥ 500/s | {mv['rps']:.0f}/s | {goal(mv['rps'] >= 500)} |",
        f"| Lost updates (every movement and mixed run) | 0 | {lost} | {goal(ok)} |",
        "",
    ]
    if args.against:
        lines += [
            f"`--against {args.against}`: that checkout's app ran the same scenarios on the same "
            "database, each pair back to back, taking turns to go first.",
            "",
            "| Scenario | this app req/s | that app req/s | ratio (median per round) "
            "| p99 ms this / that |",
            "|---|---:|---:|---:|---|",
        ]
        for label, r in results.items():
            if (other := results.get(label + BEFORE)) is not None:
                lines.append(
                    f"| {label} | {r['rps']:.0f} | {other['rps']:.0f} | {_ratio(r, other):.2f}x "
                    f"| {r['p99']:.1f} / {other['p99']:.1f} |"
                )
        lines.append("")
    lines += [ANALYSIS, ""]
    section = "\n".join(lines)
    print("\n" + section)
    print(f"bench: movement checks: {checks}", flush=True)
    if args.no_doc:
        return
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    pattern = re.compile(r"^## App service\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOC.write_text(text.rstrip("\n") + "\n")
    print(f"bench: wrote {DOC.relative_to(ROOT)}")


def settle_mariadb(limit: float = 90) -> None:
    """Wait until MariaDB is done with the seed's background work (flushing dirty pages,
    merging index changes), which would otherwise compete with the first scenarios for CPU."""
    try:
        found = subprocess.run(["pgrep", "-x", "mariadbd"], capture_output=True, check=False)
        stat = Path(f"/proc/{found.stdout.split()[0].decode()}/stat")
    except IndexError:
        time.sleep(5)  # not on this machine: nothing to watch
        return
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        before = sum(int(v) for v in stat.read_text().split()[13:15])
        time.sleep(2)
        busy = (sum(int(v) for v in stat.read_text().split()[13:15]) - before) / 2 / 100
        if busy < 0.05:
            print(f"bench: MariaDB settled ({busy:.0%} busy)", flush=True)
            return
    print(f"bench: MariaDB still busy after {limit:.0f} s", flush=True)


def mariadb_version() -> str:
    conn = pymysql.connect(**MARIADB)
    try:
        # MariaDB reports "5.5.5-10.11.x-MariaDB..." for old-client compatibility.
        return str(conn.get_server_info()).removeprefix("5.5.5-").split("-")[0]
    finally:
        conn.close()


if __name__ == "__main__":
    main()
