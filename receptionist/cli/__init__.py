"""The `receptionist` command: the CLI's composition root (each command builds its services through
`receptionist.wiring` and closes them)."""

from __future__ import annotations

import logging
import sys

import typer

from receptionist.cli import accounts as account_cli
from receptionist.cli import privacy as privacy_cli
from receptionist.cli.options import DEBUG, with_env_file

app = typer.Typer(help="AI receptionist call pipeline.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(account_cli.app, name="accounts")
app.add_typer(privacy_cli.infra_app, name="infra")
app.add_typer(privacy_cli.retention_app, name="retention")
app.add_typer(privacy_cli.training_app, name="training")


def _logging(level: str = "INFO") -> None:
    from receptionist.core.logs import install_log_scrubbing

    install_log_scrubbing()  # no caller's phone number in any log line (receptionist.core.logs)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    # The HTTP clients log every request at INFO: a line per LLM reply on every live call, which
    # drowns the log (and costs the relay CPU on every turn); the twilio client logs each request's
    # URL, query and headers. Their warnings still show.
    for name in ("httpx", "httpx2", "twilio.http_client"):
        logging.getLogger(name).setLevel(logging.WARNING)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    workers: int = typer.Option(1, "--workers", help="uvicorn worker processes."),
    debug: bool = DEBUG,
):
    """Serve the Twilio webhooks, the relay and the API (after the start-up checks of `doctor`)."""
    import uvicorn

    from receptionist.cli.doctor import check_before_start
    from receptionist.settings import Settings

    settings = Settings.load()
    settings.require("public_url")  # before uvicorn: a misconfiguration is one clear line
    _logging()
    check_before_start("serve", settings, debug=debug, warn=logging.getLogger("receptionist.serve").warning)
    _claim_deployment(settings)  # so is a database that is not the bucket's (checked again by each process)
    uvicorn.run("receptionist.app:create_server_app", factory=True, host=host, port=port, workers=workers,
                proxy_headers=True, log_level="info", access_log=False)


@app.command()
def worker(burst: bool = typer.Option(False, "--burst", help="Process what is queued, then exit."),
           debug: bool = DEBUG):
    """Run the transcription worker (loads the Whisper model once for all jobs; after the start-up checks)."""
    from receptionist.cli.doctor import check_before_start
    from receptionist.settings import Settings
    from workers.worker import serve_worker

    _logging()
    settings = Settings.load()
    # Recordings are downloaded with the Twilio credentials; alerts link to the call's page.
    settings.require("twilio_account_sid", "twilio_auth_token", "public_url")
    check_before_start("worker", settings, debug=debug, warn=logging.getLogger("receptionist.worker").warning)
    serve_worker(settings, burst=burst)


def _claim_deployment(settings) -> None:
    from receptionist.privacy.deployment import DeploymentMismatch, claim_deployment
    from receptionist.wiring import command_services

    with command_services(settings) as svc:
        svc.db.migrate()
        svc.store.ensure_bucket()
        try:
            claim_deployment(svc.db, svc.store)
        except DeploymentMismatch as exc:
            typer.secho(exc.message, fg="red", err=True)
            raise typer.Exit(2) from None
@app.command("doctor")
def doctor(debug: bool = DEBUG):
    """Check the configuration and every outside system it names; one line per check, exit 1 on a problem."""
    from receptionist.cli.doctor import doctor as run_doctor

    raise typer.Exit(run_doctor(debug))


@db_app.command("upgrade")
def db_upgrade():
    """Migrate the database to the newest schema."""
    from receptionist.core.db import Database
    from receptionist.settings import Settings

    db = Database(Settings.load().database_url, pool_size=1)
    try:
        db.migrate()
        typer.echo(f"database at {db.engine.url.render_as_string(hide_password=True)} is up to date")
    finally:
        db.dispose()


@app.command()
def demo(
    keep: bool = typer.Option(False, "--keep", help="Keep the demo's data directory afterwards."),
):
    """Play one whole call end to end on embedded local services and show where everything landed."""
    # The demo and its local servers are not part of the product: they come with the `demo` extra,
    # which registers itself under this entry-point group (the product never imports them).
    from importlib.metadata import entry_points

    found = entry_points(group="receptionist.demo", name="run")
    try:
        run_demo = next(iter(found)).load()
    except (StopIteration, ImportError) as exc:
        typer.secho(f"receptionist demo needs the demo extra: pip install 'receptionist[demo]' ({exc or 'not installed'})",
                    fg="red", err=True)
        raise typer.Exit(2) from None
    raise typer.Exit(run_demo(keep=keep))


# Every command, whoever adds it, takes --env-file (receptionist.cli.options).
with_env_file(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
