"""Real servers, started privately from the installed binaries (tests, demo, benchmarks).

Each server gets a free port and its own data directory; nothing here relies on a
server someone started by hand or on a fixed port.
"""

from silverguard.servers.process import ServerError, free_port

__all__ = ["ServerError", "free_port"]
