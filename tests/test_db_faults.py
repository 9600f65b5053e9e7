"""Database outages: every request answers 503 (never a 500), and no acknowledged write is lost across a crash.

The in-process tests make the database refuse connections and check what the admin and the API
answer, on either database. The restart test runs the real thing: gunicorn on a private PostgreSQL
cluster that is crashed and restarted under a stream of idempotent writes (tests/pgcluster.py; the
shared server is never touched).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from wsgiref.util import setup_testing_defaults

import pytest
from django.contrib.auth import get_user_model
from django.core.handlers.wsgi import WSGIHandler
from django.db import OperationalError, connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.test import Client

from .factories import PatientFactory, PresentationFactory
from .pgcluster import PrivateCluster, free_port, initdb_missing_reason

REPO = Path(__file__).resolve().parent.parent
PROBLEM_JSON = "application/problem+json"


def _refuse(self):
    raise OperationalError("connection refused (simulated outage)")


@pytest.fixture
def presentation_id(clinic):
    return PresentationFactory(patient=PatientFactory(clinic=clinic), first_seen_on="2026-01-05").pk


@pytest.fixture
def browser(client):
    """The test client, answering as a server does: an exception Django turns into a response is not re-raised.

    A signed-in request whose session cannot be saved fails inside the session middleware, after the
    view; a real server sends the response the outage middleware made of it, so the test must see it too.
    """
    client.raise_request_exception = False
    return client


def assert_unavailable_problem(response) -> None:
    assert response.status_code == 503
    assert response["Content-Type"] == PROBLEM_JSON
    assert response["Retry-After"].isdigit()
    body = response.json()
    assert body["status"] == 503
    assert body["type"].endswith("/service-unavailable")


# --- in process: what a request meets while the database is down -------------------------------


@pytest.mark.django_db
def test_api_read_answers_503_problem_details_while_the_database_is_down_and_recovers(api, presentation_id):
    with pytest.MonkeyPatch.context() as outage:
        outage.setattr(BaseDatabaseWrapper, "ensure_connection", _refuse)
        assert_unavailable_problem(api.get("/api/v1/visits/"))
    assert api.get("/api/v1/visits/").status_code == 200


@pytest.mark.django_db
def test_api_write_answers_503_problem_details_while_the_database_is_down_and_writes_nothing(api, presentation_id):
    visit = {"presentation": presentation_id, "seen_on": "2026-01-05", "pain_walking": 6, "pain_rest": 1}
    with pytest.MonkeyPatch.context() as outage:
        outage.setattr(BaseDatabaseWrapper, "ensure_connection", _refuse)
        assert_unavailable_problem(api.post("/api/v1/visits/", visit, format="json", HTTP_IDEMPOTENCY_KEY="k-1"))
    assert api.get("/api/v1/visits/").json()["results"] == []
    retried = api.post("/api/v1/visits/", visit, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert retried.status_code == 201


@pytest.mark.django_db
def test_request_that_needs_no_database_is_answered_as_usual_during_an_outage(api, database_down):
    assert api.get("/api/v1/no-such-collection/").status_code == 404


@pytest.mark.django_db
def test_signed_in_admin_page_answers_a_short_plain_503_and_recovers(browser, clinic_admin):
    browser.force_login(clinic_admin)
    with pytest.MonkeyPatch.context() as outage:
        outage.setattr(BaseDatabaseWrapper, "ensure_connection", _refuse)
        response = browser.get("/admin/cases/presentation/")
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/plain")
    assert response["Retry-After"].isdigit()
    assert b"database is not reachable" in response.content
    assert len(response.content) < 200
    assert browser.get("/admin/cases/presentation/").status_code == 200


@pytest.mark.django_db
def test_admin_sign_in_answers_503_while_the_database_is_down(client, database_down):
    response = client.post("/admin/login/", {"username": "clinic-admin", "password": "correct horse battery staple"})
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/plain")


def touches_the_database(get_response):
    """A middleware that reads the database before the view, as session or audit middleware do."""

    def middleware(request):
        get_user_model().objects.exists()
        return get_response(request)

    return middleware


def fails_for_another_reason(get_response):
    def middleware(request):
        raise ValueError("a bug, not an outage")

    return middleware


@pytest.fixture
def middleware_after_authentication(settings):
    def insert(dotted_path: str) -> Client:
        position = settings.MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1
        settings.MIDDLEWARE = [*settings.MIDDLEWARE[:position], dotted_path, *settings.MIDDLEWARE[position:]]
        # Django's test client re-raises what a real server turns into a response; here the response is the point.
        return Client(raise_request_exception=False)

    return insert


@pytest.mark.django_db
def test_outage_met_inside_another_middleware_answers_503_not_500(middleware_after_authentication, database_down):
    client = middleware_after_authentication(f"{__name__}.touches_the_database")
    assert_unavailable_problem(client.get("/api/v1/visits/"))
    page = client.get("/admin/")
    assert page.status_code == 503
    assert page["Content-Type"].startswith("text/plain")


@pytest.mark.django_db
def test_errors_that_are_not_an_outage_still_answer_500(middleware_after_authentication):
    client = middleware_after_authentication(f"{__name__}.fails_for_another_reason")
    assert client.get("/api/v1/visits/").status_code == 500
    assert client.get("/admin/").status_code == 500


@pytest.mark.django_db(transaction=True)
def test_pooled_connection_that_died_while_idle_is_replaced_before_the_next_request(on_postgres):
    """A database restart kills every pooled connection; CONN_HEALTH_CHECKS must notice before a query fails."""
    handler = WSGIHandler()
    assert _serve(handler, "/readyz") == "200 OK"  # the request leaves its connection open for reuse
    assert connection.connection is not None
    dead_pid = connection.connection.info.backend_pid
    with connection.copy().cursor() as other:
        other.execute("SELECT pg_terminate_backend(%s)", [dead_pid])
        deadline = time.monotonic() + 5
        while True:
            other.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [dead_pid])
            if other.fetchone()[0] == 0:
                break
            assert time.monotonic() < deadline, f"backend {dead_pid} was still alive after pg_terminate_backend"
            time.sleep(0.02)
    assert _serve(handler, "/readyz") == "200 OK"
    assert connection.connection.info.backend_pid != dead_pid


def _serve(handler: WSGIHandler, path: str) -> str:
    """Serve one GET the way a WSGI server does, with the request_started/finished signals the test client mutes."""
    environ = {"PATH_INFO": path, "HTTP_HOST": "testserver"}
    setup_testing_defaults(environ)
    statuses: list[str] = []
    response = handler(environ, lambda status, headers, exc_info=None: statuses.append(status))
    b"".join(response)
    response.close()
    return statuses[0]


# --- out of process: gunicorn on a private PostgreSQL cluster that crashes under load ----------------

DATABASE_NAME = "neuroma_faults"
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
# Every wait is bounded, so a server that hangs fails the test instead of stalling the suite.
REQUEST_TIMEOUT_SECONDS = 5
ACKNOWLEDGED_BEFORE_CRASH = 40
# Writes the outage must refuse before the database comes back (an event count, not a duration).
REFUSED_WHILE_DOWN = 20
# Bounds each wait, so a server that never answers as expected fails the test instead of hanging it.
WAIT_BOUND_SECONDS = 20
ACKNOWLEDGED_AFTER_RESTART = 40
WRITER_THREADS = 2
WRITER_PAUSE_SECONDS = 0.02
REFUSED_PAUSE_SECONDS = 0.1
MAX_WRITES = 2000

SEED_SCRIPT = """
import json
from django.contrib.auth import get_user_model
from api.models import ApiToken, TokenScope
from cases.choices import Role
from cases.models import Membership
from tests.factories import PatientFactory, PresentationFactory

user = get_user_model().objects.create(username="stream-podiatrist", is_staff=True)
user.set_unusable_password()
user.save()
presentation = PresentationFactory()
Membership.objects.create(user=user, clinic=presentation.patient.clinic, role=Role.PODIATRIST)
_, secret = ApiToken.issue(user=user, name="fault stream", scope=TokenScope.READ_WRITE, days=1)
print(json.dumps({"presentation": presentation.pk, "seen_on": str(presentation.first_seen_on), "token": secret}))
"""


@dataclass
class Served:
    port: int
    token: str
    presentation: int
    seen_on: str
    cluster: PrivateCluster
    log: Path


@dataclass
class Write:
    """One POST of a visit: its key and notes marker, and what the server answered (status None: no answer)."""

    number: int
    sent_at: float = 0.0
    answered_at: float = 0.0
    status: int | None = None
    content_type: str = ""
    body: dict | None = None
    retry_after: str | None = None
    retry_status: int | None = None

    @property
    def key(self) -> str:
        return f"fault-stream-{self.number:05d}"

    @property
    def marker(self) -> str:
        return f"stream write {self.number:05d}"

    @property
    def acknowledged(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def _production_environment(database_url: str) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PG_BIN")
    return {
        **{name: os.environ[name] for name in keep if name in os.environ},
        "DJANGO_SETTINGS_MODULE": "clinic.settings",
        "DJANGO_SECRET_KEY": "fault-test-key-" + "x" * 40,
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DATABASE_URL": database_url,
        "API_RATE_PER_CALLER": "100000/min",
        "DJANGO_LOG_LEVEL": "WARNING",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def _manage(environment: dict[str, str], *arguments: str) -> str:
    result = subprocess.run(  # noqa: S603 (our own interpreter and manage.py)
        [sys.executable, "manage.py", *arguments],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"manage.py {arguments[0]} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture
def private_cluster():
    reason = initdb_missing_reason()
    if reason:
        pytest.skip(reason)
    cluster = PrivateCluster.create()
    try:
        cluster.start()
        cluster.create_database(DATABASE_NAME)
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def served(on_postgres, private_cluster):
    """gunicorn with two workers and production settings, on a migrated and seeded private database."""
    environment = _production_environment(private_cluster.url(DATABASE_NAME))
    _manage(environment, "migrate", "--noinput")
    seeded = json.loads(_manage(environment, "shell", "-c", SEED_SCRIPT).strip().splitlines()[-1])
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="neuroma-gunicorn-", suffix=".log")[1])
    with log.open("w") as log_file:
        server = subprocess.Popen(  # noqa: S603 (the project's own gunicorn)
            [
                GUNICORN,
                "clinic.wsgi",
                "-w",
                "2",
                "-b",
                f"127.0.0.1:{port}",
                "--timeout",
                "20",
                "--graceful-timeout",
                "2",
            ],
            cwd=REPO,
            env=environment,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 20
        while _get(port, "/healthz")[0] != 200:
            assert server.poll() is None, f"gunicorn exited:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"gunicorn did not answer /healthz:\n{log.read_text()}"
            time.sleep(0.1)
        yield Served(port, seeded["token"], seeded["presentation"], seeded["seen_on"], private_cluster, log)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)
        log.unlink(missing_ok=True)


def _get(port: int, path: str) -> tuple[int | None, str]:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_SECONDS)
        conn.request("GET", path, headers={"Host": "127.0.0.1"})
        response = conn.getresponse()
        return response.status, response.read().decode()
    except OSError as error:
        return None, str(error)


def _post_visit(served: Served, write: Write) -> tuple[int | None, str, dict | None, str | None, dict[str, str]]:
    payload = {
        "presentation": served.presentation,
        "seen_on": served.seen_on,
        "pain_walking": 5,
        "pain_rest": 1,
        "notes": write.marker,
    }
    try:
        conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=REQUEST_TIMEOUT_SECONDS)
        conn.request(
            "POST",
            "/api/v1/visits/",
            body=json.dumps(payload),
            headers={
                "Host": "127.0.0.1",
                "Authorization": f"Bearer {served.token}",
                "Content-Type": "application/json",
                "Idempotency-Key": write.key,
            },
        )
        response = conn.getresponse()
        raw = response.read()
        content_type = response.getheader("Content-Type", "")
        body = json.loads(raw) if "json" in content_type else {"raw": raw[:200].decode(errors="replace")}
        return response.status, content_type, body, response.getheader("Retry-After"), dict(response.getheaders())
    except (OSError, http.client.HTTPException) as error:
        return None, "", {"error": repr(error)}, None, {}


class WriteStream:
    """Threads that POST visits one after another, each with a unique Idempotency-Key and notes marker."""

    def __init__(self, served: Served) -> None:
        self.served = served
        self.writes: list[Write] = []
        self._numbers = iter(range(MAX_WRITES))
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._write, daemon=True) for _ in range(WRITER_THREADS)]

    def __enter__(self) -> WriteStream:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=REQUEST_TIMEOUT_SECONDS + 2)

    def answered_since(self, moment: float, *, acknowledged: bool) -> int:
        """Writes sent at or after ``moment`` and answered: acknowledged (201), or else refused."""
        with self._lock:
            return sum(
                1
                for write in self.writes
                if write.sent_at >= moment and write.status is not None and write.acknowledged is acknowledged
            )

    def wait_for(self, count: int, *, acknowledged: bool, since: float, within: float) -> None:
        """Poll until ``count`` writes sent since ``since`` were so answered; fail past ``within`` seconds."""
        deadline = time.monotonic() + within
        while self.answered_since(since, acknowledged=acknowledged) < count:
            outcome = "acknowledged" if acknowledged else "refused"
            assert time.monotonic() < deadline, f"fewer than {count} writes {outcome} within the {within} s bound"
            time.sleep(0.05)

    def _write(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                number = next(self._numbers, None)
            if number is None:
                return
            write = Write(number, sent_at=time.monotonic())
            write.status, write.content_type, write.body, write.retry_after, _ = _post_visit(self.served, write)
            write.answered_at = time.monotonic()
            with self._lock:
                self.writes.append(write)
            # A refused client waits a little longer (a real one would honour Retry-After), which keeps
            # the outage's refusals to a readable number while still testing every moment of it.
            time.sleep(WRITER_PAUSE_SECONDS if write.acknowledged else REFUSED_PAUSE_SECONDS)


def _stored_state(served: Served) -> tuple[dict[str, int], dict[str, tuple[int | None, str | None]]]:
    """Visits per notes marker, and each idempotency record's status and the notes of the visit it answered."""
    import psycopg

    with psycopg.connect(served.cluster.url(DATABASE_NAME), connect_timeout=5) as database:
        visits: dict[str, int] = {}
        for (notes,) in database.execute(
            "SELECT notes FROM cases_visit WHERE presentation_id = %s", [served.presentation]
        ):
            visits[notes] = visits.get(notes, 0) + 1
        records = {
            key: (status_code, notes)
            for key, status_code, notes in database.execute(
                "SELECT record.key, record.status_code, visit.notes FROM api_idempotencyrecord AS record "
                "LEFT JOIN cases_visit AS visit ON visit.id = (record.response_body ->> 'id')::bigint"
            )
        }
    return visits, records


def test_database_crash_under_a_stream_of_writes_loses_no_acknowledged_write(served):
    started = time.monotonic()
    with WriteStream(served) as stream:
        stream.wait_for(ACKNOWLEDGED_BEFORE_CRASH, acknowledged=True, since=started, within=WAIT_BOUND_SECONDS)
        served.cluster.stop("immediate")  # a crash: no shutdown checkpoint, open transactions die
        down_since = time.monotonic()
        assert _get(served.port, "/healthz")[0] == 200
        ready_while_down = _get(served.port, "/readyz")
        # The outage lasts until it has refused a number of writes sent after it began, however fast or
        # slow this machine is.
        stream.wait_for(REFUSED_WHILE_DOWN, acknowledged=False, since=down_since, within=WAIT_BOUND_SECONDS)
        down_until = time.monotonic()
        served.cluster.start()  # crash recovery replays the WAL
        up_since = time.monotonic()
        stream.wait_for(ACKNOWLEDGED_AFTER_RESTART, acknowledged=True, since=up_since, within=WAIT_BOUND_SECONDS)
    writes = sorted(stream.writes, key=lambda write: write.number)

    unanswered = [write for write in writes if write.status is None]
    assert not unanswered, f"requests without an answer (a hang or a dropped connection): {unanswered[:3]}"
    refused = [write for write in writes if not write.acknowledged]
    assert refused, "the crash refused no write: the stream did not overlap the outage"
    for write in refused:
        assert write.status == 503, f"{write.key}: {write.status} {write.content_type} {write.body}"
        assert write.content_type == PROBLEM_JSON
        assert write.body["status"] == 503
        assert write.retry_after and write.retry_after.isdigit()
    assert ready_while_down[0] == 503
    assert all(write.acknowledged for write in writes if write.sent_at >= up_since), "writes failed after recovery"

    # Refused while the server was wholly down, a write cannot have reached it. One refused around
    # the crash may have committed before its connection died: a client retries it with its key.
    surely_lost = [write for write in refused if write.sent_at >= down_since and write.answered_at <= down_until]
    left_alone = surely_lost[::2]
    for write in refused:
        if write not in left_alone:
            write.retry_status = _post_visit(served, write)[0]
            assert write.retry_status == 201, f"retry of {write.key} answered {write.retry_status}"

    # A quiet restart kills both workers' pooled connections; the next requests must not notice.
    served.cluster.stop("fast")
    served.cluster.start()
    after_quiet_restart = [Write(MAX_WRITES + number) for number in range(10)]
    for write in after_quiet_restart:
        write.status = _post_visit(served, write)[0]
    assert [write.status for write in after_quiet_restart] == [201] * 10
    assert _get(served.port, "/readyz")[0] == 200

    visits, records = _stored_state(served)
    for write in [*writes, *after_quiet_restart]:
        stored = visits.get(write.marker, 0)
        if write.acknowledged or write.retry_status == 201:
            assert stored == 1, f"{write.key} was acknowledged but is stored {stored} times"
        else:
            assert stored == 0, f"{write.key} was refused and never retried, yet is stored"
    assert sum(visits.values()) == len(visits), "a visit was written twice"
    # Nothing half-written: every visit has its idempotency record, and every record its finished visit.
    keys_by_marker = {write.marker: write.key for write in [*writes, *after_quiet_restart]}
    assert {keys_by_marker[marker] for marker in visits} == set(records)
    for key, (status_code, notes) in records.items():
        assert status_code == 201, f"idempotency record {key} is unfinished ({status_code})"
        assert notes is not None and keys_by_marker[notes] == key, f"record {key} answers another visit"

    print(  # the report asked for these numbers; `pytest -s` shows them
        f"\nrestart test: {len(writes)} writes streamed, {len(writes) - len(refused)} acknowledged, "
        f"{len(refused)} refused with 503 ({len(surely_lost)} while the server was down, {len(left_alone)} "
        f"left alone, {len(refused) - len(left_alone)} retried), {time.monotonic() - started:.1f} s"
    )
