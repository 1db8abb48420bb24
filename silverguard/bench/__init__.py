"""Benchmarks: scripts that print their figures (one JSON line) and save them as JSON.

They are not timed tests; docs/benchmarks.md records their figures and commands.
"""

import json
import os
import platform
from pathlib import Path
from typing import Any


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def emit(name: str, figures: dict[str, Any], out: Path | None) -> None:
    """Print the figures as one JSON line and save them (with the machine) as JSON."""
    print(json.dumps(figures), flush=True)
    path = out or Path("bench-results") / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps({"benchmark": name, "figures": figures, "machine": machine()}, indent=2) + "\n"
    )
