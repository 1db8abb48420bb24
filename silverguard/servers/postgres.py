"""A private PostgreSQL cluster from the installed binaries (tests and benchmarks).

``initdb`` + ``postgres`` from ``/usr/lib/postgresql/<version>/bin`` on a free port
of 127.0.0.1, with a fresh data directory; never the machine's own cluster on 5432.

initdb refuses to run as root, and the tests run as root on CI machines: then the
cluster runs as the ``postgres`` system user (Debian's package creates it) in a
directory that user owns; otherwise as the invoking user. Password authentication
(SCRAM) on TCP only, no Unix socket in a shared place.
"""

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg

from silverguard.servers.process import (
    PORT_ATTEMPTS,
    ChildProcess,
    ServerError,
    free_port,
    port_clash,
    port_open,
)

_SEARCH = Path("/usr/lib/postgresql")
_SERVICE_USER = "postgres"


def find_pg_bin() -> Path:
    """The newest installed PostgreSQL's bin directory."""
    candidates = sorted(
        (p for p in _SEARCH.glob("*/bin") if (p / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not candidates:
        raise ServerError("PostgreSQL is not installed (apt-get install postgresql)")
    return candidates[-1]


_READY = "ready to accept connections"


class PostgresServer:
    """One cluster with one superuser; ``url(database)`` gives SQLAlchemy URLs."""

    def __init__(self, *, port: int | None = None, durable: bool = False) -> None:
        self.port = port or free_port()
        self._fixed_port = port is not None
        self._started_once = False
        self.user = "sg"
        self.password = secrets.token_urlsafe(18)
        # Tests do not need crash safety; skipping fsync makes them several times faster.
        self.durable = durable
        self.bin = find_pg_bin()
        self._runas: list[str] = []
        self._owner: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                self._owner = pwd.getpwnam(_SERVICE_USER)
            except KeyError:
                raise ServerError(
                    "running as root, PostgreSQL needs the 'postgres' system user "
                    "(created by Debian's postgresql package)"
                ) from None
            # setpriv execs in place (no intermediate process), so signals reach postgres.
            self._runas = [
                "setpriv",
                f"--reuid={_SERVICE_USER}",
                f"--regid={_SERVICE_USER}",
                "--init-groups",
                "--",
            ]
        # Not under pytest's tmp_path: as root that is private to root, and the
        # 'postgres' user must own and reach its data directory.
        self.workdir = Path(tempfile.mkdtemp(prefix="silverguard-pg-"))
        self.data_dir = self.workdir / "data"
        self._process = ChildProcess(
            "postgres",
            [
                *self._runas,
                str(self.bin / "postgres"),
                "-D",
                str(self.data_dir),
                "-p",
                str(self.port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={self.workdir}",
                *(
                    []
                    if durable
                    else [
                        "-c",
                        "fsync=off",
                        "-c",
                        "synchronous_commit=off",
                        "-c",
                        "full_page_writes=off",
                    ]
                ),
            ],
            self.workdir / "postgres.log",
        )

    def _chown(self, path: Path) -> None:
        if self._owner is not None:
            os.chown(path, self._owner.pw_uid, self._owner.pw_gid)

    def _initdb(self) -> None:
        self.workdir.chmod(0o700)
        self._chown(self.workdir)
        pwfile = self.workdir / "pwfile"
        pwfile.write_text(self.password + "\n")
        pwfile.chmod(0o600)
        self._chown(pwfile)
        result = subprocess.run(  # noqa: S603 - argv built from the installed binaries
            [
                *self._runas,
                str(self.bin / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                self.user,
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        pwfile.unlink()
        if result.returncode != 0:
            raise ServerError(f"initdb failed: {result.stderr.strip() or result.stdout.strip()}")
        # The log file must be writable by the server's user too.
        log = self.workdir / "postgres.log"
        log.touch()
        self._chown(log)

    def start(self, timeout: float = 30.0) -> "PostgresServer":
        if not self.data_dir.exists():
            self._initdb()
        for attempt in range(PORT_ATTEMPTS):
            # Ready when *this* start logged it: an open port alone may be another's.
            seen = self._process.log_count(_READY)
            self._process.start()
            try:
                self._process.wait_ready(
                    lambda seen=seen: (
                        self._process.log_count(_READY) > seen  # type: ignore[misc]
                        and port_open(self.port)
                    ),
                    timeout,
                )
                break
            except ServerError as exc:
                last = attempt == PORT_ATTEMPTS - 1
                if self._started_once or self._fixed_port or last or not port_clash(exc):
                    raise
                argv = self._process.argv
                self.port = free_port()
                argv[argv.index("-p") + 1] = str(self.port)
        self._started_once = True
        return self

    def stop(self) -> None:
        self._process.stop()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    @property
    def running(self) -> bool:
        return self._process.running

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}:{self.password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create a database (optionally a copy of ``template``) and return its URL."""
        if not name.replace("_", "").isalnum():
            raise ValueError(f"database name {name!r}: use letters, digits and '_'")
        with psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=self.user,
            password=self.password,
            dbname="postgres",
            autocommit=True,
        ) as conn:
            suffix = f" TEMPLATE {template}" if template else ""
            conn.execute(f"CREATE DATABASE {name}{suffix}")  # type: ignore[arg-type]
        return self.url(name)

    def __enter__(self) -> "PostgresServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
