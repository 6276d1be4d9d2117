#!/usr/bin/env python3
"""Writes the README's performance section from the benchmarks' own output.

Reads what `make bench` and `make bench-peers` leave behind:

- target/criterion/overhead/*/new/estimates.json  (criterion: per-call cases)
- target/bench/pipeline.json, nats.json, kv.json, scale.json (custom harnesses)
- benches/peers/target/peers.json                 (make bench-peers; optional)

and replaces everything between `<!-- bench:start -->` and `<!-- bench:end -->` in
README.md. No figure is typed by hand: run `make bench` (and `make bench-peers`)
and this script, and commit the README.

Usage: scripts/bench-table.py [README.md]
"""

import datetime
import json
import pathlib
import platform
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
START, END = "<!-- bench:start -->", "<!-- bench:end -->"

# Targets of issue 12, as ratios of wasp to raw wasmtime (per call) or to the floor.
TARGETS = {
    ("upper", "16B"): 1.3,
    ("upper", "1KiB"): 1.3,
    ("upper", "64KiB"): 1.2,
    ("process", "60B"): 1.3,
    ("fresh", "16B"): 1.2,
}


def load(path):
    p = ROOT / path
    return json.loads(p.read_text()) if p.exists() else None


def fmt_ns(ns):
    if ns < 1_000:
        return f"{ns:.0f} ns"
    if ns < 1_000_000:
        return f"{ns / 1_000:.2f} µs"
    return f"{ns / 1_000_000:.2f} ms"


def criterion_median(group, bench_id):
    """Median in ns of criterion's `group/bench_id` (criterion writes '/' as '_')."""
    d = ROOT / "target/criterion" / group / bench_id.replace("/", "_") / "new/estimates.json"
    if not d.exists():
        return None
    return json.loads(d.read_text())["median"]["point_estimate"]


def machine():
    model = "unknown CPU"
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    return f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}"


def per_call_table():
    rows = []
    cases = [
        ("upper", "16B", "warm call, 16 B"),
        ("upper", "1KiB", "warm call, 1 KiB"),
        ("upper", "64KiB", "warm call, 64 KiB"),
        ("process", "60B", "a stage's `process` on a 60-byte JSON event"),
        ("fresh", "16B", "fresh instance + call, 16 B (`instance = \"per-call\"`)"),
    ]
    for case, size, label in cases:
        raw_id = f"raw-pooling/{case}/{size}" if case == "fresh" else f"raw/{case}/{size}"
        raw = criterion_median("overhead", raw_id)
        metered = criterion_median("overhead", f"raw+fuel+epochs/{case}/{size}")
        wasp = criterion_median("overhead", f"wasp/{case}/{size}")
        if raw is None or wasp is None:
            continue
        ratio = wasp / raw
        target = TARGETS[(case, size)]
        met = "met" if ratio <= target else "missed"
        metered_cell = (
            f"{fmt_ns(metered)} ({metered / raw:.2f}x)" if metered is not None else "–"
        )
        rows.append(
            f"| {label} | {fmt_ns(wasp)} | {fmt_ns(raw)} | {metered_cell} | "
            f"**{ratio:.2f}x** | ≤ {target}x ({met}) |"
        )
    if not rows:
        return []
    return [
        "| case | wasp | raw wasmtime | raw + fuel + epochs | wasp / raw | target |",
        "|---|---:|---:|---:|---:|---|",
        *rows,
    ]


def recording_table():
    plain = criterion_median("overhead", "wasp/process/60B")
    recorded = criterion_median("overhead", "wasp-recorded/process/60B")
    if plain is None or recorded is None:
        return []
    return [
        "| recording (`wasp run --record`), a stage's `process` on a 60-byte event | median per call |",
        "|---|---:|",
        f"| recording off | {fmt_ns(plain)} |",
        f"| recording on: the instance keeps its history | {fmt_ns(recorded)} "
        f"(+{fmt_ns(recorded - plain)}, {recorded / plain:.2f}x) |",
    ]


def load_table():
    cold = criterion_median("instantiate", "upper-load-cold")
    cached = criterion_median("instantiate", "upper-load-cached")
    if cold is None or cached is None:
        return []
    return [
        "| loading `upper` | median |",
        "|---|---:|",
        f"| cold: adapt + compile + instantiate + info + init | {fmt_ns(cold)} |",
        f"| from the compile cache | {fmt_ns(cached)} ({cold / cached:.0f}x faster) |",
    ]


def simd_table():
    with_ = criterion_median("simd", "with/64KiB")
    without = criterion_median("simd", "without/64KiB")
    native = criterion_median("simd", "native/64KiB")
    if with_ is None or without is None:
        return []
    rows = [
        "| `bytewise` `upper` over 64 KiB (a byte loop) | median |",
        "|---|---:|",
        f"| plugin built with `+simd128` (`wasp build`'s default) | {fmt_ns(with_)} ({without / with_:.1f}x faster) |",
        f"| the same plugin built without | {fmt_ns(without)} |",
    ]
    if native is not None:
        rows.append(f"| native Rust, same loop | {fmt_ns(native)} |")
    return rows


def pipeline_table():
    data = load("target/bench/pipeline.json")
    if not data:
        return []
    rows = [
        "| `wasp run`, 3 stages, 100k events of 60 B | events/s (wall) | events per CPU-second | CPU per event | floor (3 raw calls) | CPU / floor |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in data["results"]:
        rows.append(
            f"| {r['case']} | {r['events_per_s']:,.0f} | {r['events_per_cpu_s']:,.0f} | "
            f"{fmt_ns(r['cpu_s_per_million'] * 1000)} | {fmt_ns(r['floor_ns_per_event'])} | "
            f"**{r['cpu_to_floor']:.2f}x** |"
        )
    return rows


def nats_table():
    data = load("target/bench/nats.json")
    if not data:
        return []
    labels = {
        "file": "file in, stdout out (one process)",
        "nats/1-worker": "NATS JetStream, 1 worker",
        "nats/2-workers": "NATS JetStream, 2 workers sharing the consumer",
    }
    rows = [
        "| `wasp run`, 3 `upper` stages, batches of 256, 100k events of 60 B | events/s (wall) | CPU s per million events (workers) |",
        "|---|---:|---:|",
    ]
    for r in data["results"]:
        rows.append(
            f"| {labels.get(r['case'], r['case'])} | {r['events_per_s']:,.0f} | "
            f"{r['cpu_s_per_million']:.2f} |"
        )
    return rows


def kv_table():
    data = load("target/bench/kv.json")
    if not data:
        return []
    rows = ["| kv `set` inside a plugin, one set per call | sets/s |", "|---|---:|"]
    for r in data["results"]:
        rows.append(f"| {r['case']} | {r['sets_per_s']:,.0f} |")
    return rows


def scale_table():
    data = load("target/bench/scale.json")
    if not data:
        return []
    rows = [
        "| plugins loaded | load per plugin | RSS per plugin, idle | after one call each | calls/s, 8 tasks round-robin |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in data["results"]:
        rows.append(
            f"| {r['plugins']:,} | {r['load_ms_per_plugin']:.3f} ms | "
            f"{r['idle_rss_kib_per_plugin']} KiB | {r['called_rss_kib_per_plugin']} KiB | "
            f"{r['calls_per_s']:,.0f} |"
        )
    return rows


def peers_table():
    data = load("benches/peers/target/peers.json")
    if not data:
        return ["(run `make bench-peers` to add Extism, pipe IPC and native here)"]
    by = {}
    for r in data["results"]:
        by[(r["case"], r["size"])] = r["ns_per_call"]
    sizes = [16, 1024, 65536]
    names = {16: "16 B", 1024: "1 KiB", 65536: "64 KiB"}
    rows = [
        f"Peers, one call of the same logic, {data.get('date', '')} on {data.get('machine', '')} (`{data.get('command', 'make bench-peers')}`):",
        "",
        "| one call | " + " | ".join(names[s] for s in sizes) + " |",
        "|---|" + "---:|" * len(sizes),
    ]
    labels = [
        ("native", "native Rust function"),
        ("wasp", "wasp"),
        ("raw-wasmtime", "raw wasmtime 48"),
        ("extism", "Extism 1.30"),
        ("pipe-ipc", "child process over pipes"),
    ]
    for case, label in labels:
        cells = []
        for s in sizes:
            ns = by.get((case, s))
            raw = by.get(("raw-wasmtime", s))
            if ns is None:
                cells.append("–")
            elif case != "raw-wasmtime" and raw:
                cells.append(f"{fmt_ns(ns)} ({ns / raw:.2f}x raw)")
            else:
                cells.append(fmt_ns(ns))
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    return rows


def main():
    readme = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "README.md"
    text = readme.read_text()
    if START not in text or END not in text:
        sys.exit(f"{readme}: no {START} … {END} markers")
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        START,
        f"Generated by `scripts/bench-table.py` from the output of `make bench` "
        f"(and `make bench-peers`), {now}, on {machine()}. One run; medians; "
        f"ratios are to raw wasmtime measured in the same run.",
        "",
    ]
    tables = (
        per_call_table(),
        recording_table(),
        load_table(),
        simd_table(),
        pipeline_table(),
        nats_table(),
        kv_table(),
        scale_table(),
        peers_table(),
    )
    for table in tables:
        if table:
            parts.extend(table)
            parts.append("")
    parts.append(END)
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    readme.write_text(before + "\n".join(parts) + after)
    print(f"{readme}: performance section regenerated")


if __name__ == "__main__":
    main()
