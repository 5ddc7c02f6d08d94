"""sandbox.LocalPostgres: a cluster of its own, an outage that cuts clients, and nothing left behind."""

from __future__ import annotations

import psycopg
import pytest

from receptionist.core.db import Database
from sandbox import LocalPostgres
from sandbox.ports import port_is_free


def test_cluster_survives_a_stop_and_start_and_is_removed_at_the_end() -> None:
    with LocalPostgres() as pg:
        directory, port = pg.data_dir.parent, pg.port
        url = pg.create_database("soak_check")
        assert url == f"postgresql://postgres@127.0.0.1:{port}/soak_check"
        Database(url).migrate()  # the product's migrations run on it
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (n int)")
            conn.execute("INSERT INTO kept VALUES (7)")
            pg.stop_server()
            assert not pg.running and port_is_free(port)
            with pytest.raises(psycopg.OperationalError):
                conn.execute("SELECT 1")  # an outage cuts every client
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(url, connect_timeout=2)
        pg.start_server()
        assert pg.port == port
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT n FROM kept").fetchone() == (7,)
            assert conn.execute("SHOW unix_socket_directories").fetchone()[0] == str(directory)
    assert not directory.exists() and port_is_free(port)


def test_a_crash_stop_recovers_and_bad_arguments_are_refused() -> None:
    with LocalPostgres() as pg:
        pg.stop_server("immediate")
        pg.start_server()
        with psycopg.connect(pg.url()) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        with pytest.raises(ValueError):
            pg.stop_server("gently")
        with pytest.raises(ValueError):
            pg.create_database("x; DROP")
        with pytest.raises(RuntimeError, match="already started"):
            pg.start()
