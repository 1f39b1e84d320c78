"""The case store's fixtures: a database per test, on SQLite and on PostgreSQL.

PostgreSQL comes from GRAPHGUARD_TEST_POSTGRES_URL (what `.ci/run` exports), or else from a
throwaway server these fixtures start themselves when PostgreSQL's binaries are installed
(a private data directory and socket in /tmp, no TCP port, stopped at the end of the session).
Without either, the PostgreSQL variants skip.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ENV_URL = "GRAPHGUARD_TEST_POSTGRES_URL"


def _run(args: list[str], as_postgres: bool) -> None:
    if as_postgres:
        args = ["runuser", "-u", "postgres", "--", *args]
    subprocess.run(args, check=True, capture_output=True, timeout=120)


#: stops a private server once the pytest process that started it is gone, however it ended
#: (a session killed by a timeout never runs its fixtures' teardown)
_WATCHDOG = """
import os, shutil, subprocess, sys, time
owner, root, stop = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
while True:
    try:
        os.kill(owner, 0)
    except ProcessLookupError:
        break
    except PermissionError:
        pass
    time.sleep(2)
subprocess.run(stop, capture_output=True, timeout=120)
shutil.rmtree(root, ignore_errors=True)
"""


def _watch(root: Path, stop: list[str], as_postgres: bool) -> None:
    if as_postgres:
        stop = ["runuser", "-u", "postgres", "--", *stop]
    subprocess.Popen(
        [sys.executable, "-c", _WATCHDOG, str(os.getpid()), str(root), *stop],
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _private_server() -> Iterator[str | None]:
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not binaries:
        yield None
        return
    bindir = Path(binaries[-1]).parent
    as_postgres = os.geteuid() == 0  # the server refuses to run as root
    if as_postgres and not shutil.which("runuser"):
        yield None
        return
    root = Path(tempfile.mkdtemp(prefix="graphguard-pg-"))
    data = root / "data"
    started = False
    try:
        if as_postgres:
            shutil.chown(root, "postgres")
        _run(
            [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"], as_postgres
        )
        _run(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(root / "log"),
                "-w",
                "-o",
                f"-k {root} -c listen_addresses='' -c fsync=off",
                "start",
            ],
            as_postgres,
        )
        started = True
        _watch(
            root, [str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], as_postgres
        )
        yield f"postgresql+psycopg://postgres@/postgres?host={root}"
    except (subprocess.SubprocessError, OSError, LookupError):
        yield None
    finally:
        if started:
            with contextlib.suppress(subprocess.SubprocessError):
                _run(
                    [str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                    as_postgres,
                )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """A URL with the right to create databases, or the test skips."""
    pytest.importorskip("psycopg")
    url = os.environ.get(ENV_URL)
    if url:
        yield url
        return
    server = _private_server()
    found = next(server)
    if found is None:
        pytest.skip(f"no PostgreSQL: set {ENV_URL} or install PostgreSQL")
    try:
        yield found
    finally:
        server.close()


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from graphguard.casestore import database_url

    admin = database_url(postgres_admin_url)
    name = f"gg_test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The case database of one test: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "cases.db")
    return request.getfixturevalue("postgres_url")
