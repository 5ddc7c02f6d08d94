"""Alembic environment: runs on the connection handed in by `receptionist.core.db.migrate`,
or on `RECEPTIONIST_DATABASE_URL` when invoked through the `alembic` command."""

from alembic import context

from receptionist.core.models import Base

target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return

    from receptionist.core.db import make_engine
    from receptionist.settings import Settings

    engine = make_engine(Settings().database_url)
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
