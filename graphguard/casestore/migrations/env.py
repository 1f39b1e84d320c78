"""Alembic environment of the case store.

`CaseStore.open` runs the migrations programmatically and hands over its connection in
``config.attributes["connection"]``; the ``alembic`` command line can also be pointed at this
folder with ``-x url=...`` (or ``sqlalchemy.url`` in an alembic.ini) to inspect a database.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from graphguard.casestore.schema import metadata

config = context.config


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite alters a table by copying it; the same script then runs on both backends
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise SystemExit("pass the database as: alembic -x url=sqlite:///cases.db ...")
    engine = create_engine(url)
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()
