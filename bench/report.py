"""The results table, read against the targets from the issue."""

from __future__ import annotations

CAPACITY_TARGET = 0.3  # Gigline's turns/s against the bare handler's, the same run
# N processes: each CPU-second they use answers at least this share of the turns one
# process answers with it, so N cores give at least 0.85·N times one process's turns.
WORKERS_TARGET = 0.85
P99_TARGET_MS = 25.0
GENERATOR_BUSY = 90.0  # % of a core: above this the generator may be what limits a run
BACKGROUND_BUSY = 15.0  # other processes' CPU (% of a core) above which the machine is shared

HEADER = (f"  {'':<24}{'turns/s':>9}{'p50':>9}{'p90':>9}{'p99':>9}{'max':>9}"
          f"{'errors':>8}  {'srv':>4} {'gen':>4} {'pg':>4} {'oth':>4} {'all':>4}")


def _verdict(met: bool) -> str:
    return "MET" if met else "MISSED"


def _row(label: str, rate: float, summary: dict, cpu: dict) -> str:
    lat = summary["latency_ms"]
    cells = "".join(f"{lat[k]:9.1f}" if k in lat else f"{'-':>9}"
                    for k in ("p50", "p90", "p99", "max"))
    shared = " *" if cpu["other"] > BACKGROUND_BUSY else ""
    return (f"  {label:<24}{rate:9.1f}{cells}{summary['errors']:8d}  "
            f"{cpu['server']:4.0f} {cpu['generator']:4.0f} {cpu['postgres']:4.0f} "
            f"{cpu['other']:4.0f} {cpu['machine']:4.0f}{shared}")


def per_server_cpu(run: dict) -> float:
    """Turns per second of server CPU: the rate a fully busy server core would give."""
    busy = run["cpu_percent"]["server"] / 100
    return run["turns"]["per_second"] / busy if busy else 0.0


def capacity_notes(cap: dict) -> list[str]:
    bare, gigline = cap["bare"], cap["gigline"]
    ratio = gigline["turns"]["per_second"] / bare["turns"]["per_second"]
    cpu_ratio = per_server_cpu(gigline) / per_server_cpu(bare)
    notes = [f"capacity: gigline/bare = {ratio:.3f} "
             f"(target >= {CAPACITY_TARGET}: {_verdict(ratio >= CAPACITY_TARGET)})",
             f"turns per server CPU-second: gigline {per_server_cpu(gigline):.0f}, "
             f"bare {per_server_cpu(bare):.0f} (ratio {cpu_ratio:.3f})"]
    for name, run in cap.items():
        if name not in ("bare", "gigline"):
            share = per_server_cpu(run) / per_server_cpu(gigline)
            notes.append(f"turns per server CPU-second: {name} {per_server_cpu(run):.0f}, "
                         f"{share:.2f}x one process's (target >= {WORKERS_TARGET}: "
                         f"{_verdict(share >= WORKERS_TARGET)}); turns/s "
                         f"{run['turns']['per_second']:.0f} vs "
                         f"{gigline['turns']['per_second']:.0f}")
        if run["cpu_percent"]["generator"] > GENERATOR_BUSY:
            notes.append(f"the generator used a full core in the {name} capacity run: "
                         f"{name}'s rate is a lower bound")
    return notes


def latency_notes(lat: dict) -> list[str]:
    p99 = lat["turns"]["latency_ms"].get("p99", float("inf"))
    unanswered = lat["by_kind"]["unanswered"]["count"]
    lag = lat["generator_loop_lag_ms"]
    return [
        f"latency at {lat['offered_rate']:g}/s offered ({lat['calls']} calls): "
        f"{lat['achieved_per_second']:.0f} turns/s answered, p99 {p99:.1f} ms"
        + (f", {unanswered} turns still unanswered at the deadline" if unanswered else "")
        + f" (target p99 < {P99_TARGET_MS:g} ms: {_verdict(p99 < P99_TARGET_MS)})",
        f"  generator loop lag p99 {lag.get('p99', 0):.1f} ms, max {lag.get('max', 0):.1f} ms",
    ]


def print_report(results: dict) -> None:
    m = results["machine"]
    print(f"\nGigline IVR turns, {results['started']}, {m['cpus']} CPUs ({m['cpu_model']}), "
          f"Python {m['python']}")
    print(f"command: python {results['command']}")
    print("  latency in ms (open loop: from the planned send time); CPU in % of one core "
          "for the server, generator, PostgreSQL, other processes; all = % of all cores")
    for run in results["runs"]:
        print(f"\n{run['database']}\n{HEADER}")
        notes: list[str] = []
        if cap := run.get("capacity"):
            for name, r in cap.items():
                print(_row(f"capacity {name}", r["turns"]["per_second"], r["turns"],
                           r["cpu_percent"]))
            notes += capacity_notes(cap)
        for lat in run.get("latency", []):
            print(_row(f"latency {lat['offered_rate']:g}/s {lat.get('server_name', '')}",
                       lat["achieved_per_second"],
                       lat["turns"], lat["cpu_percent"]))
            notes += latency_notes(lat)
        for message, count in list(run["server_log_problems"]["gigline"].items())[:3]:
            notes.append(f"gigline logged {count}x: {message[:140]}")
        for note in notes:
            print(f"  - {note}")
    shared = [r for run in results["runs"] for r in _scenario_runs(run)
              if r["cpu_percent"]["other"] > BACKGROUND_BUSY]
    if shared:
        print(f"\n  * other processes used over {BACKGROUND_BUSY:g}% of a core during that run "
              "and competed with it for the machine")


def _scenario_runs(run: dict) -> list[dict]:
    return [*run.get("capacity", {}).values(), *run.get("latency", [])]
