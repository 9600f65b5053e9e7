"""A throwaway PostgreSQL cluster that a test may stop, crash and restart without touching the shared server.

The shared server at 127.0.0.1:5432 serves every other test run, so fault tests never stop it: they
``initdb`` their own cluster into a temporary directory, on a free port, and remove it afterwards.
PostgreSQL refuses to run as root, so under root the server's commands run as the ``postgres`` user.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
SERVER_USER = "postgres"
# Bounds every pg_ctl wait, so a server that will not start or stop fails the test instead of hanging it.
PG_CTL_TIMEOUT_SECONDS = 30


def initdb_missing_reason() -> str | None:
    """Why a private cluster cannot be made here, or None when it can."""
    if not (PG_BIN / "initdb").exists():
        return f"needs PostgreSQL's server programs (initdb) in {PG_BIN}; set PG_BIN to where they are"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root needs runuser to start PostgreSQL as the postgres user"
    return None


def free_port() -> int:
    """A TCP port nobody listens on at this moment (the OS picks it, so parallel runs do not collide)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivateCluster:
    """One PostgreSQL cluster in a temporary directory, listening on 127.0.0.1:<port> with trust auth."""

    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.port = port
        self.data_dir = root / "data"
        self.log_file = root / "server.log"

    @classmethod
    def create(cls) -> PrivateCluster:
        root = Path(tempfile.mkdtemp(prefix="neuroma-pg-"))
        if os.geteuid() == 0:
            shutil.chown(root, user=SERVER_USER, group=SERVER_USER)
        cluster = cls(root, free_port())
        try:
            # --no-sync: the cluster lives for one test; durability across an OS crash is not what is tested.
            cluster._run(
                PG_BIN / "initdb",
                "-D",
                cluster.data_dir,
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            )
        except BaseException:
            cluster.destroy()
            raise
        return cluster

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        # After a crash the server syncs its data directory before recovery; one syncfs instead of an
        # fsync per file takes that from seconds to milliseconds, and is as safe.
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c recovery_init_sync_method=syncfs"
        self._run(
            PG_BIN / "pg_ctl",
            "-D",
            self.data_dir,
            "-l",
            self.log_file,
            "-o",
            options,
            "-t",
            str(PG_CTL_TIMEOUT_SECONDS),
            "-w",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: ``fast`` rolls back open transactions; ``immediate`` is a crash, recovered at start."""
        self._run(PG_BIN / "pg_ctl", "-D", self.data_dir, "-m", mode, "-t", str(PG_CTL_TIMEOUT_SECONDS), "-w", "stop")

    def is_running(self) -> bool:
        status = subprocess.run(  # noqa: S603 (fixed programs, no shell)
            self._command(PG_BIN / "pg_ctl", "-D", self.data_dir, "status"),
            capture_output=True,
            check=False,
            timeout=PG_CTL_TIMEOUT_SECONDS,
        )
        return status.returncode == 0

    def create_database(self, name: str) -> None:
        self._run(PG_BIN / "createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)

    def destroy(self) -> None:
        """Stop the server if it runs and remove every file of the cluster."""
        try:
            if self.data_dir.exists() and self.is_running():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def server_log(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def _command(self, program: Path, *arguments: object) -> list[str]:
        command = [str(program), *map(str, arguments)]
        if os.geteuid() == 0:
            return ["runuser", "-u", SERVER_USER, "--", *command]
        return command

    def _run(self, program: Path, *arguments: object) -> None:
        result = subprocess.run(  # noqa: S603 (fixed programs, no shell)
            self._command(program, *arguments),
            capture_output=True,
            text=True,
            check=False,
            timeout=PG_CTL_TIMEOUT_SECONDS + 10,
            cwd=self.root,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{program.name} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}\n{self.server_log()}"
            )
