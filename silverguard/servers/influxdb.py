"""A private InfluxDB 1.x (``influxd``) on free ports with its data in a work directory."""

import shutil
import urllib.request
from pathlib import Path

from silverguard.servers.process import (
    PORT_ATTEMPTS,
    ChildProcess,
    ServerError,
    free_port,
    port_clash,
)


class InfluxServer:
    def __init__(self, workdir: Path, *, port: int | None = None, auth: bool = False) -> None:
        """``auth``: users and privileges enforced, as in production; the first user
        created (over HTTP, before any exists) must be an admin."""
        self.workdir = Path(workdir)
        self.auth = auth
        self.port = port or free_port()
        self.rpc_port = free_port()
        self._fixed_port = port is not None
        self._started_once = False
        self.conf_file = self.workdir / "influxdb.conf"
        self._process = ChildProcess(
            "influxd", ["influxd", "-config", str(self.conf_file)], self.workdir / "influxd.log"
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _write_config(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        d = self.workdir
        self.conf_file.write_text(
            f"""reporting-disabled = true
bind-address = "127.0.0.1:{self.rpc_port}"

[meta]
  dir = "{d}/meta"

[data]
  dir = "{d}/data"
  wal-dir = "{d}/wal"
  query-log-enabled = false
  index-version = "inmem"

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:{self.port}"
  log-enabled = false
  auth-enabled = {"true" if self.auth else "false"}

[continuous_queries]
  log-enabled = false
"""
        )

    def _ping(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=0.5) as response:  # noqa: S310
                return int(response.status) == 204
        except OSError:
            return False

    def start(self, timeout: float = 30.0) -> "InfluxServer":
        if shutil.which("influxd") is None:
            raise ServerError("influxd is not installed (apt-get install influxdb)")
        for attempt in range(PORT_ATTEMPTS):
            self._write_config()
            self._process.start()
            try:
                self._process.wait_ready(self._ping, timeout)
                break
            except ServerError as exc:
                last = attempt == PORT_ATTEMPTS - 1
                if self._started_once or self._fixed_port or last or not port_clash(exc):
                    raise
                self.port, self.rpc_port = free_port(), free_port()
        self._started_once = True
        return self

    def stop(self) -> None:
        self._process.stop()

    def kill(self) -> None:
        self._process.kill()

    @property
    def running(self) -> bool:
        return self._process.running
