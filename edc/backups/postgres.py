"""PostgreSQL: a custom-format `pg_dump` of one snapshot, restored with `pg_restore` into a database it creates.

The client programs get the connection from libpq's environment variables (the password never appears on a
command line, in a log line or in the dump's folder), and must be of the server's major version: a newer
pg_dump writes settings an older server refuses at restore, an older one refuses to dump.
"""

import os
import subprocess  # noqa: S404 - fixed argument lists, never a shell
from pathlib import Path

from edc.backups.errors import BackupError
from edc.backups.fingerprint import fingerprint, open_database

NAME = "postgresql"
SUFFIX = ".dump"
LIBPQ_ENVIRONMENT = {"HOST": "PGHOST", "PORT": "PGPORT", "USER": "PGUSER", "PASSWORD": "PGPASSWORD"}
LIBPQ_OPTIONS = {"sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY"}


def dump(settings_dict: dict, out: Path) -> dict:
    """Dump the database into `out` (an empty file already created) → the fingerprint of what the dump holds.

    The fingerprint and pg_dump read the same exported snapshot, so writes during the dump are in neither."""
    with open_database(settings_dict) as connection:
        connection.set_autocommit(False)
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            _check_client_version(cursor)
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
        with out.open("wb") as file:
            _run(["pg_dump", "--format=custom", f"--snapshot={snapshot}", settings_dict["NAME"]], settings_dict, file)
        contents = fingerprint(connection)
        connection.rollback()
    return contents


def load(dump_file: Path, settings_dict: dict, target: str) -> dict:
    """Create the database `target` (refused if it exists) and restore the dump into it → its fingerprint."""
    try:
        _run(["createdb", "--template=template0", target], settings_dict)
    except BackupError as error:
        raise BackupError(f"a restore never overwrites a database; name a new one ({error})") from None
    try:
        _run(["pg_restore", "--exit-on-error", "--single-transaction", "--no-owner", "--no-privileges",
              f"--dbname={target}", str(dump_file)], settings_dict)  # fmt: skip
        with open_database(target_settings(settings_dict, target)) as connection:
            return fingerprint(connection)
    except Exception:
        remove(settings_dict, target)  # created above: nothing of anyone else's is dropped
        raise


def remove(settings_dict: dict, target: str) -> None:
    _run(["dropdb", "--if-exists", target], settings_dict)


def target_settings(settings_dict: dict, target: str) -> dict:
    return {**settings_dict, "NAME": target}


def default_target(settings_dict: dict) -> str:
    return settings_dict["NAME"]


def default_scratch(settings_dict: dict, dump_path: Path) -> str:
    """The drill's database, on the same server: `<database>_drill`."""
    return f"{settings_dict['NAME']}_drill"


def describe(target: str) -> str:
    return f"database {target}"


def _check_client_version(cursor) -> None:
    cursor.execute("SHOW server_version_num")
    server_major = int(cursor.fetchone()[0]) // 10000
    client = subprocess.run(["pg_dump", "--version"], capture_output=True, text=True, check=True).stdout  # noqa: S607
    client_major = int(client.split()[-1].split(".")[0])
    if client_major != server_major:
        raise BackupError(
            f"pg_dump is version {client_major} and the server {server_major}: install the client programs of "
            f"PostgreSQL {server_major} (postgresql-client-{server_major})"
        )


def _run(arguments: list[str], settings_dict: dict, stdout=subprocess.DEVNULL) -> None:
    result = subprocess.run(  # noqa: S603 - fixed programs, arguments from settings
        [*arguments[:1], "--no-password", *arguments[1:]],
        env=_libpq_environment(settings_dict),
        stdout=stdout,
        stderr=subprocess.PIPE,
        check=False,
    )
    if result.returncode:
        errors = result.stderr.decode(errors="replace").strip()
        raise BackupError(f"{arguments[0]} failed (exit {result.returncode}): {errors}")


def _libpq_environment(settings_dict: dict) -> dict:
    environment = {**os.environ}
    given = {name: settings_dict[key] for key, name in LIBPQ_ENVIRONMENT.items() if settings_dict.get(key)}
    environment.update({name: str(value) for name, value in given.items()})
    options = settings_dict.get("OPTIONS", {})
    environment.update({name: str(options[key]) for key, name in LIBPQ_OPTIONS.items() if options.get(key)})
    return environment
