"""The options every `receptionist` command takes: `--env-file PATH` and `--debug`.

`--env-file` names the file of settings (default `./.env`, in the directory the command runs in);
the environment's own variables win over it, as with the default. It is passed on to what the
command starts (uvicorn's worker processes, RQ's work horses) through `RECEPTIONIST_ENV_FILE`, so
every process of one command reads the same file. A file named but missing is an error, never a
silent fall-back to defaults. `--debug` shows the traceback behind a configuration error, which is
otherwise one line.
"""

from __future__ import annotations

import functools
import inspect
import os
import traceback
from pathlib import Path

import typer

from receptionist.settings import DEFAULT_ENV_FILE, ENV_FILE_VARIABLE

ENV_FILE = typer.Option(None, "--env-file", envvar=ENV_FILE_VARIABLE, show_default=False, dir_okay=False,
                        help=f"The settings file to read besides the environment (default: ./{DEFAULT_ENV_FILE} "
                             "in the current directory).")
DEBUG = typer.Option(False, "--debug", help="Show the traceback behind a configuration error.")


def use_env_file(path: Path | None) -> None:
    if path is None:
        return
    if not path.is_file():
        raise SystemExit(f"--env-file {path}: no such file")
    os.environ[ENV_FILE_VARIABLE] = str(path.resolve())


def _with_options(callback):
    signature = inspect.signature(callback)
    takes_debug = "debug" in signature.parameters

    @functools.wraps(callback)
    def command(*args, env_file: Path | None = None, **kwargs):
        debug = kwargs.get("debug", False) if takes_debug else kwargs.pop("debug", False)
        try:
            use_env_file(env_file)
            return callback(*args, **kwargs)
        except SystemExit as exc:
            # A configuration error is one line (SystemExit with its message); --debug adds its cause.
            cause = exc.__cause__ or exc.__context__
            if debug and isinstance(exc.code, str) and cause is not None:
                traceback.print_exception(cause)
            raise

    extra = [inspect.Parameter("env_file", inspect.Parameter.KEYWORD_ONLY, default=ENV_FILE, annotation=Path | None)]
    if not takes_debug:
        extra.append(inspect.Parameter("debug", inspect.Parameter.KEYWORD_ONLY, default=DEBUG, annotation=bool))
    params = [p for p in signature.parameters.values() if p.kind != inspect.Parameter.VAR_KEYWORD]
    command.__signature__ = signature.replace(parameters=params + extra)
    command.__annotations__ = {**callback.__annotations__, "env_file": Path | None, "debug": bool}
    return command


def with_env_file(app: typer.Typer) -> typer.Typer:
    """Give every command of `app` and of its sub-apps `--env-file` (and `--debug`)."""
    for info in app.registered_commands:
        if not getattr(info.callback, "takes_env_file", False):
            info.callback = _with_options(info.callback)
            info.callback.takes_env_file = True
    for group in app.registered_groups:
        with_env_file(group.typer_instance)
    return app
