"""gunicorn under production settings on a socket the run holds, and the two clients (one request, wrk) that load it.

The run binds one loopback socket on a port the kernel picks and hands the same descriptor to every
gunicorn it starts (``--bind fd://N``), so nothing else listening on a fixed port can make it fail,
and no other process can take the port between two scenarios.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WRK_SCRIPTS = ROOT / "bench" / "wrk"
HOST = "127.0.0.1"
# One key for the whole run: the tokens issued in-process and every gunicorn must agree on it.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50)


def listen() -> socket.socket:
    """A loopback socket on a free port, listening, inheritable, kept open for the whole run."""
    listener = socket.create_server((HOST, 0), backlog=1024)
    listener.set_inheritable(True)
    return listener


def django_env(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DJANGO_SECRET_KEY": SECRET_KEY,
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": HOST,
        # The load generator is one caller hammering the API: production's per-token budget would 429 it.
        "API_RATE_PER_CALLER": "100000000/min",
        "DJANGO_LOG_LEVEL": "WARNING",
        # The network's patients have reserved example addresses, but a bench run never delivers mail at all.
        "EMAIL_URL": "dummymail://",
        # TLS ends at the load balancer in production; the bench speaks plain HTTP on loopback and says
        # so the way a balancer does, so the HTTPS redirect and HSTS settings stay as deployed.
        "DJANGO_SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https",
    }


def manage(database_url: str, *command: str) -> None:
    subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=django_env(database_url), check=True)  # noqa: S603


class Gunicorn:
    """A fresh gunicorn per scenario, so each one's peak memory is its own."""

    def __init__(self, args: argparse.Namespace, database_url: str | None = None) -> None:
        self.args = args
        self.database_url = database_url or args.database_url
        self.listener: socket.socket = args.listener
        self.port: int = self.listener.getsockname()[1]
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def __enter__(self) -> Gunicorn:
        fd = self.listener.fileno()
        command = [
            str(Path(sys.executable).parent / "gunicorn"),
            "clinic.wsgi",
            "--bind",
            f"fd://{fd}",
            "--workers",
            str(self.args.workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(self.args.threads),
            "--log-level",
            "warning",
        ]
        self.process = subprocess.Popen(command, cwd=ROOT, env=django_env(self.database_url), pass_fds=(fd,))  # noqa: S603
        # The socket listens already, so a probe connects at once and waits in the backlog until a worker
        # takes it; a short timeout and a look at the master tell a slow start from a failed one.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode} before answering")
            try:
                self.request("GET", "/api/schema/?format=json", timeout=5)
                return self
            except (OSError, http.client.HTTPException):
                time.sleep(0.2)
        self.__exit__()
        raise RuntimeError("gunicorn did not answer within 60 s")

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        return [int(pid) for pid in children]

    def memory_mb(self, field: str = "VmHWM") -> float:
        """The largest ``field`` (VmHWM: peak resident, VmRSS: current) among the workers, in MB."""
        peaks = []
        for pid in self.worker_pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith(field + ":"):
                    peaks.append(int(line.split()[1]) / 1024)
        return max(peaks)

    def __exit__(self, *exc) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)

    def connection(self, timeout: float = 120) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(HOST, self.port, timeout=timeout)

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: dict | None = None,
        count: bool = False,
        timeout: float = 120,
        cookie: str | None = None,
        headers: dict | None = None,
    ) -> tuple[http.client.HTTPResponse, bytes]:
        connection = self.connection(timeout)
        headers = {"Content-Type": "application/json", "X-Forwarded-Proto": "https", **(headers or {})}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if cookie:
            headers["Cookie"] = cookie
        if count:
            headers["X-Bench-Queries"] = "1"
        try:
            connection.request(method, path, body=json.dumps(body) if body else None, headers=headers)
            response = connection.getresponse()
            payload = response.read()
        finally:
            connection.close()
        if not 200 <= response.status < 300:
            raise RuntimeError(f"{method} {path} answered {response.status}: {payload[:300]!r}")
        return response, payload

    def queries_per_request(
        self,
        method: str,
        path: str,
        token: str | None,
        body: dict | None = None,
        cookie: str | None = None,
        headers: dict | None = None,
    ) -> int:
        response, _ = self.request(method, path, token=token, body=body, count=True, cookie=cookie, headers=headers)
        return int(response.headers["X-Bench-Queries"])

    def wrk_command(
        self,
        args: argparse.Namespace,
        path: str,
        script: str,
        *,
        connections: int | None = None,
        duration: int | None = None,
    ) -> list[str]:
        connections = connections or args.connections
        return [
            "wrk",
            f"-t{min(args.wrk_threads, connections)}",  # wrk needs a connection per thread
            f"-c{connections}",
            f"-d{duration or args.duration}s",
            "--timeout",
            "30s",
            "-s",
            str(WRK_SCRIPTS / script),
            f"{self.url}{path}",
        ]

    def wrk(
        self,
        args: argparse.Namespace,
        path: str,
        token: str | None,
        script: str = "get.lua",
        extra_env: dict | None = None,
        connections: int | None = None,
    ) -> dict:
        env = {**os.environ, "BENCH_TOKEN": token or "", **(extra_env or {})}
        command = self.wrk_command(args, path, script, connections=connections)
        output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout  # noqa: S603
        return wrk_summary(output)


def wrk_summary(output: str) -> dict:
    """The one ``BENCH {json}`` line every script in bench/wrk prints when it is done."""
    line = next(line for line in output.splitlines() if line.startswith("BENCH "))
    return json.loads(line[len("BENCH ") :])
