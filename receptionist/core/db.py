"""Database engine, sessions and migrations (Alembic), for PostgreSQL and SQLite alike."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str, pool_size: int = 20, *, isolation_level: str | None = None, pre_ping: bool = True) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        # The web server's thread pool and the worker share one file: WAL lets readers and the
        # one writer proceed together, and the busy timeout waits for the writer instead of failing.
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               **({"isolation_level": isolation_level} if isolation_level else {}))

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    # Overflow connections are closed when returned, so a pool smaller than the number of threads
    # using it reconnects on every busy request (a PostgreSQL connect costs milliseconds). The web
    # app caps its thread pool at the same size (see app.py).
    return create_engine(url, pool_size=pool_size, max_overflow=5, pool_pre_ping=pre_ping, pool_recycle=1800,
                         **({"isolation_level": isolation_level} if isolation_level else {}))


class Database:
    """An engine and its session factory; built once per process from settings."""

    def __init__(self, url: str, pool_size: int = 20):
        self.url = url
        self.pool_size = pool_size
        self.engine = make_engine(url, pool_size)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Single statements on hot paths: autocommit (no BEGIN/COMMIT round trips, the statement is
        # atomic by itself) and no pre-ping round trip (the caller retries once on a dropped connection).
        self.hot_engine = make_engine(url, pool_size, isolation_level="AUTOCOMMIT", pre_ping=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def migrate(self) -> None:
        migrate(self.engine)

    def schema_revisions(self) -> tuple[str | None, str]:
        """The schema's Alembic revision in this database (None: never migrated) and the newest one."""
        return schema_revisions(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()
        self.hot_engine.dispose()


def _alembic_config():
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def schema_revisions(engine: Engine) -> tuple[str | None, str]:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    return current, head


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (idempotent)."""
    from alembic import command

    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


# What a database server says while it cannot be reached yet: down, restarting, starting up.
_UNREACHABLE = ("connection refused", "could not connect", "connection timed out", "server closed the connection",
                "the database system is starting up", "the database system is shutting down",
                "terminating connection", "no route to host", "connection reset")


def is_unreachable(exc: BaseException) -> bool:
    """Whether `exc` says the database server is away for now (worth waiting for), not that it
    refused what was asked (a wrong password, a missing database, a bad file path)."""
    from sqlalchemy.exc import DBAPIError

    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    text = str(exc.orig).lower()
    return any(marker in text for marker in _UNREACHABLE)

