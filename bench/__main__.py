"""``python -m bench``: run every scenario and write ``bench/results.json`` and the tables.

python -m bench                 # everything, SQLite and (with TEST_DATABASE_URL) PostgreSQL
python -m bench --quick         # a smoke run: small sizes, short durations
python -m bench --only jira     # one scenario: ace, jira, delivery, ingestion, growth, pacing,
                               # storm
python -m bench --only storm --storm-alerts 5000   # a smaller storm
python -m bench --only storm --storm-workers 2     # two worker processes
python -m bench --profile       # also sample the web workers with py-spy (bench/profiles/)
python -m bench --only ace      # side by side with atlassian-connect-express (needs node)
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import delivery
from bench import growth
from bench import ingestion
from bench import jira_calls
from bench import loadgen
from bench import pacing
from bench import profile
from bench import report
from bench import storm
from bench import versus_ace
from bench.stack import rss_mib
from bench.stack import stack

logger = logging.getLogger("bench")
# the storm keeps twenty creates per alias, and at least one alias per workspace
WORKSPACES_ALIASES = storm.WORKSPACES
HERE = Path(__file__).resolve().parent
SCENARIOS = ("ace", "jira", "growth", "ingestion", "delivery", "pacing", "storm")


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    wrk = loadgen.wrk_path()
    wrk_version = ""
    if wrk:
        out = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)
        wrk_version = (
            (out.stdout or out.stderr).splitlines()[0] if (out.stdout or out.stderr) else ""
        )
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_gib, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "load_generator": wrk_version or "python (wrk not installed)",
    }


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def web_rss(s: Any) -> list[float]:
    return [round(rss_mib(pid), 1) for pid in s.web_worker_pids()]


def run_backend(backend: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    quick = args.quick
    use_wrk = not args.python_loadgen
    out: dict[str, Any] = {"memory_mib": {}}
    wanted = set(args.only or SCENARIOS)

    if wanted & {"ace", "jira", "growth"}:
        with stack(backend, workdir) as s:
            out["memory_mib"]["web worker, idle"] = web_rss(s)
            # one comparison per run is enough: ACE's store is SQLite, so beside SQLite's
            if "ace" in wanted and backend == "sqlite":
                out["load_average_before_ace"] = load_average()
                out["versus_ace"] = versus_ace.run(s, workdir, duration=2 if quick else 10)
                out["memory_mib"]["web worker, after the side by side"] = web_rss(s)
            if "jira" in wanted:
                out["load_average_before_jira"] = load_average()
                raw = workdir / f"{backend}-jira.raw"
                sampler = None
                if args.profile:
                    sampler = profile.start(s.web_worker_pids()[0], raw, 60 if not quick else 15)
                out["jira_calls"] = jira_calls.run(s, duration=2 if quick else 10, use_wrk=use_wrk)
                if sampler is not None:
                    sampler.wait()
                    if raw.exists():
                        target = HERE / "profiles" / f"{backend}-jira-calls.txt"
                        target.parent.mkdir(exist_ok=True)
                        target.write_text(profile.summarise(raw))
                out["memory_mib"]["web worker, after Jira's calls"] = web_rss(s)
            if "growth" in wanted:
                sizes = (1_000, 10_000) if quick else growth.SIZES
                out["growth"] = growth.run(
                    s, duration=1 if quick else 3, use_wrk=use_wrk, sizes=sizes
                )
                out["memory_mib"]["web worker, after growth (100k rows)"] = web_rss(s)

    if "ingestion" in wanted:
        with stack(backend, workdir) as s:
            out["load_average_before_ingestion"] = load_average()
            out["ingestion"] = ingestion.run(s, duration=3 if quick else 10, use_wrk=use_wrk)
            out["memory_mib"]["worker, after ingestion"] = [
                round(rss_mib(p.pid), 1) for p in s.workers
            ]
            out["memory_mib"]["web worker, after ingestion"] = web_rss(s)

    if "storm" in wanted:
        alerts = args.storm_alerts or (2_000 if quick else storm.ALERTS)
        with stack(backend, workdir) as s:
            out["load_average_before_storm"] = load_average()
            out["storm"] = storm.run(
                s,
                alerts=alerts,
                aliases=max(WORKSPACES_ALIASES, alerts // 20),
                workers=args.storm_workers,
            )

    if "delivery" in wanted:
        incidents, components = (5_000, 1_000) if quick else (100_000, 20_000)
        runs = []
        for workers in (1, 2) if backend == "postgresql" else (1,):
            with stack(backend, workdir) as s:
                out["load_average_before_delivery"] = load_average()
                result = delivery.run(
                    s, incidents=incidents, components=components, workers=workers
                )
                result["worker_rss_mib_after"] = [round(rss_mib(p.pid), 1) for p in s.workers]
                runs.append(result)
        out["delivery"] = runs
        out["memory_mib"]["worker, after delivery"] = runs[0]["worker_rss_mib_after"]

    if "pacing" in wanted:
        with stack(backend, workdir) as s:
            out["load_average_before_pacing"] = load_average()
            out["pacing"] = pacing.run(s, quick=quick)
            logger.info("pacing: %s", out["pacing"])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, short runs (smoke)")
    parser.add_argument("--only", action="append", choices=SCENARIOS, help="run only these")
    parser.add_argument(
        "--backend", action="append", choices=("sqlite", "postgresql"), help="default: all"
    )
    parser.add_argument("--profile", action="store_true", help="py-spy the web workers")
    parser.add_argument("--python-loadgen", action="store_true", help="do not use wrk")
    parser.add_argument("--storm-alerts", type=int, help="alerts the storm sends (20,000)")
    parser.add_argument(
        "--storm-workers", type=int, default=1, help="worker processes during the storm (1)"
    )
    parser.add_argument("--output", type=Path, default=HERE, help="where results go")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("werkzeug", "alembic", "jira_simulator"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    if not args.python_loadgen and loadgen.ensure_wrk() is None:
        logger.warning(
            "wrk is not installed (apt-get install wrk): using the Python load generator"
        )
    backends = args.backend or ["sqlite"] + (
        ["postgresql"] if os.environ.get("TEST_DATABASE_URL") else []
    )
    started = time.monotonic()
    results: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python -m bench" + (" " + " ".join(argv or sys.argv[1:])).rstrip(),
        "quick": args.quick,
        "machine": machine(),
        "load_average_at_start": load_average(),
        "backends": {},
    }
    args.output.mkdir(parents=True, exist_ok=True)
    suffix = "-quick" if args.quick else ""
    partial = args.output / f"results{suffix}.partial.json"
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        for backend in backends:
            logger.info("── %s ──", backend)
            results["backends"][backend] = run_backend(backend, args, Path(tmp))
            # an interrupted run still leaves what it measured
            partial.write_text(json.dumps(results, indent=2) + "\n")
    partial.unlink(missing_ok=True)
    results["load_average_at_end"] = load_average()
    results["minutes"] = round((time.monotonic() - started) / 60, 1)
    (args.output / f"results{suffix}.json").write_text(json.dumps(results, indent=2) + "\n")
    table = report.markdown(results)
    (args.output / f"RESULTS{suffix}.md").write_text(table)
    if not args.quick and not args.only:
        report.update_readme(HERE / "README.md", table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
