"""The database URL an operator writes is the one libpq understands (issue 27)."""

from __future__ import annotations

from caratflow.db import make_engine


def connect_arguments(url: str) -> dict:
    engine = make_engine(url)
    try:
        return engine.dialect.create_connect_args(engine.url)[1]
    finally:
        engine.dispose()


def test_a_multi_host_url_reaches_libpq_as_its_list_of_hosts_and_ports():
    url = "postgresql://caratflow@db1:5432,db2:5433/caratflow?target_session_attrs=read-write"
    arguments = connect_arguments(url)
    assert (arguments["host"], arguments["port"]) == ("db1,db2", "5432,5433")
    assert (arguments["dbname"], arguments["user"]) == ("caratflow", "caratflow")
    assert arguments["target_session_attrs"] == "read-write"


def test_a_single_host_url_keeps_its_password_and_host():
    arguments = connect_arguments("postgresql://caratflow:p%40ss@db1:5432/caratflow")
    assert (arguments["host"], arguments["port"], arguments["password"]) == ("db1", 5432, "p@ss")
