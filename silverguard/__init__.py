"""The shell: the ``silverguard`` command and what it runs on top of edge/ and fleet/ —
the demo, the district simulation, benchmarks, fall evaluation and the private servers
that tests and the demo start. Nothing in edge/ or fleet/ imports it."""

from contract.version import __version__

__all__ = ["__version__"]
