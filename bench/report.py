"""Render ``results.json`` as Markdown tables (``bench/RESULTS.md`` and ``bench/README.md``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

START = "<!-- results:start -->"
END = "<!-- results:end -->"


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    out = [
        f"Measured {results['date']} with `{results['command']}` in {results['minutes']} min.",
        f"Machine: {m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB, {m['os']}, "
        f"Python {m['python']}; load generator {m['load_generator']} on the same cores.",
        f"Load average (1, 5, 15 min) at start {results['load_average_at_start']}, "
        f"at end {results['load_average_at_end']}; the benchmark's own processes count in it, "
        "so a reading taken between scenarios includes the previous one.",
        "",
    ]
    for backend, b in results["backends"].items():
        out.append(f"### {backend}")
        out.append("")
        if "versus_ace" in b:
            out += _versus_ace(b["versus_ace"], b.get("load_average_before_ace"))
        if "jira_calls" in b:
            rows = []
            health = b["jira_calls"].get("healthz", {}).get("rps") or 0
            for name, r in b["jira_calls"].items():
                share = f"{100 * r['rps'] / health:.0f}%" if health else ""
                rows.append(
                    [
                        name,
                        f"{r['rps']:.0f}",
                        f"{r['p50_ms']:.1f}",
                        f"{r['p99_ms']:.1f}",
                        r["errors"],
                        share,
                    ]
                )
            out.append(
                f"**Jira's calls** ({b['jira_calls']['healthz']['generator']}, "
                f"load before: {b.get('load_average_before_jira')})."
            )
            out.append("")
            out.append(
                _table(["request", "req/s", "p50 ms", "p99 ms", "errors", "of /healthz"], rows)
            )
            out.append("")
        if "delivery" in b:
            rows = [
                [
                    d["workers"],
                    f"{d['incidents']:,} + {d['components']:,}",
                    d["seconds_to_delivered"],
                    d["entities_per_second"],
                    f"{d['bulk_requests']['incident']} + {d['bulk_requests']['component']}",
                    f"{d['bulk_requests_floor']['incident']} + {d['bulk_requests_floor']['component']}",
                    d["bulk_requests_per_1000"],
                    d["worker_cpu_seconds_per_1000"],
                ]
                for d in b["delivery"]
            ]
            out.append(f"**Delivery** (load before: {b.get('load_average_before_delivery')})")
            out.append("")
            out.append(
                _table(
                    [
                        "workers",
                        "incidents + components",
                        "seconds until held",
                        "entities/s",
                        "bulk requests",
                        "floor",
                        "requests per 1,000",
                        "worker CPU s per 1,000",
                    ],
                    rows,
                )
            )
            out.append("")
        if "ingestion" in b:
            i = b["ingestion"]
            out.append(f"**Ingestion** (load before: {b.get('load_average_before_ingestion')})")
            out.append("")
            out.append(
                _table(
                    [
                        "accepted (202)",
                        "accepted/s",
                        "202 p50 ms",
                        "202 p99 ms",
                        "processed",
                        "processed/s end to end",
                        "incidents opened",
                        "errors",
                    ],
                    [
                        [
                            i["accepted"],
                            i["accepted_per_second"],
                            i["accept_p50_ms"],
                            i["accept_p99_ms"],
                            i["processed"],
                            i["processed_per_second_end_to_end"],
                            i.get("incidents_opened", ""),
                            i["errors"],
                        ]
                    ],
                )
            )
            out.append("")
        if "pacing" in b:
            out.extend(_pacing(b["pacing"], b.get("load_average_before_pacing")))
        if "storm" in b:
            out.extend(storm_table(b["storm"], b.get("load_average_before_storm")))
        if b.get("memory_mib"):
            out.append("**Memory** (resident, MiB, one value per process)")
            out.append("")
            out.append(
                _table(
                    ["process", "RSS MiB"],
                    [[k, ", ".join(str(x) for x in v)] for k, v in b["memory_mib"].items()],
                )
            )
            out.append("")
        if "growth" in b:
            sizes = list(b["growth"])
            names = list(next(iter(b["growth"].values())))
            rows = [
                [name]
                + [
                    f"{b['growth'][s][name]['p50_ms']:.1f} / {b['growth'][s][name]['p99_ms']:.1f}"
                    for s in sizes
                ]
                for name in names
            ]
            out.append(
                "**Growth**: p50 / p99 latency in ms (2 connections) with N alerts and N components"
            )
            out.append("")
            out.append(_table(["request"] + [f"N = {int(s):,}" for s in sizes], rows))
            out.append("")
    return "\n".join(out) + "\n"


def storm_table(st: dict[str, Any], load: Any) -> list[str]:
    """The storm scenario: intake, then processing for the well-behaved and the hostile."""
    quiet, bad = st.get("well_behaved", {}), st.get("hostile", {})
    return [
        f"**Storm** ({st['alerts']:,} alerts over {st['aliases']:,} aliases, 5 workspaces, "
        f"{st['connections']} connections, {_workers(st.get('workers', 1))}; "
        f"load before: {load})",
        "",
        _table(
            ["accepted", "accepted/s", "202 p50 ms", "202 p99 ms", "errors", "web CPU ms/202",
             "/healthz/s", "intake ÷ /healthz"],
            [[st["accepted"], st["accepted_per_second"], st["accept_p50_ms"],
              st["accept_p99_ms"], st["errors"], st["web_cpu_ms_per_accepted"],
              st["healthz_per_second"], st["intake_share_of_healthz"]]],
        ),
        "",
        _table(
            ["workspaces", "processed", "processed/s end to end", "202→processed p50 s",
             "p99 s", "max s"],
            [[name, w.get("processed"), w.get("processed_per_second_end_to_end"),
              w.get("seconds_202_to_processed_p50"), w.get("seconds_202_to_processed_p99"),
              w.get("seconds_202_to_processed_max")]
             for name, w in (("four well-behaved", quiet), ("the hostile one", bad))],
        ),
        "",
        *_deduplication_line(st.get("well_behaved_deduplication")),
    ]  # fmt: skip


def _deduplication_line(d: dict[str, int] | None) -> list[str]:
    if not d:
        return []
    return [
        f"De-duplication, four well-behaved workspaces: {d['exact']:,} of {d['aliases']:,} "
        f"aliases end with one open alert whose count equals the creates accepted for it "
        f"({d['not_exact']} not).",
        "",
    ]


def _workers(n: int) -> str:
    return "one worker" if n == 1 else f"{n} workers"


def _versus_ace(v: dict[str, Any], load: Any) -> list[str]:
    if "skipped" in v:
        return [f"**Side by side with atlassian-connect-express**: skipped ({v['skipped']}).", ""]
    rows = [
        [
            n,
            f"{r['ace']['rps']:.0f}",
            f"{r['ace']['cpu_us_per_request']:.0f}",
            f"{r['project']['rps']:.0f}",
            f"{r['project']['cpu_us_per_request']:.0f}",
            f"{r['project']['p99_ms']:.1f}",
            f"{r['ratio']:.2f}",
        ]
        for n, r in enumerate(v["rounds"], 1)
    ]
    return [
        f"**Side by side with {v['ace']}** ({v['load']}, rounds alternating, load before: "
        f"{load}): ACE's `addon.authenticate()` route against this project's `searchContainers`, "
        f"server CPU per request from `/proc`. Median ratio of req/s, project ÷ ACE: "
        f"**{v['median_ratio']:.2f}**; of CPU per request, ACE ÷ project: "
        f"**{v['median_cpu_ratio']:.2f}**.",
        "",
        _table(
            [
                "round",
                "ACE req/s",
                "ACE CPU µs/req",
                "project req/s",
                "project CPU µs/req",
                "project p99 ms",
                "project ÷ ACE",
            ],
            rows,
        ),
        "",
    ]


def update_readme(readme: Path, table: str) -> None:
    text = readme.read_text() if readme.exists() else f"{START}\n{END}\n"
    if START not in text or END not in text:
        text += f"\n{START}\n{END}\n"
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    readme.write_text(f"{head}{START}\n{table}{END}{tail}")


def _pacing(p: dict[str, Any], load: Any) -> list[str]:
    """Requests to a site (each a point of Jira's hourly quota): a burst, then a steady stream."""
    b, st = p["burst"], p["steady"]
    return [
        f"**Requests to a site** (load before: {load})",
        "",
        _table(
            ["case", "changes", "bulk / write requests", "goal", "lost", "worker CPU s"],
            [
                [
                    f"{b['components']:,} components by {b['clients']} clients, first "
                    f"{b['answered_429']} answered 429 (created in {b['creation_s']} s, "
                    f"held after {b['delivered_s']} s)",
                    b["created_201"],
                    b["bulk_requests"],
                    "≤ 6",
                    b["components"] - b["in_simulator"],
                    b["worker_cpu_s"],
                ],
                [
                    f"{st['rate_per_s']:.0f} changes/s for {st['stream_s']} s to 20 incidents "
                    f"and 200 components; requests per minute {st['site_writes_per_minute']}",
                    st["changes"],
                    st["site_writes_until_drained"],
                    "≤ 120 a minute",
                    st["entities_not_at_latest"],
                    st["worker_cpu_s"],
                ],
            ],
        ),
        "",
    ]
