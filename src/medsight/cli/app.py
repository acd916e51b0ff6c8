"""The ``medsight`` command: sub-commands, error rendering and exit codes.

Every :class:`~medsight.errors.MedsightError` ends the command with one line on stderr,
``error[<code>]: <message>``, and the exit code from :data:`medsight.errors.EXIT_CODES`
(2 usage, 3 input, 4 privacy, 5 integrity, 1 other). ``--debug`` adds the traceback.
Anything else is a bug: it is reported the same way, as ``error[internal]``, exit 1.

Commands that need no model import neither torch nor MONAI, so they answer fast.
"""

from __future__ import annotations

import inspect
import logging
import os
import sys
import traceback
import warnings
from typing import Annotated

import typer
from pydantic import ValidationError

from medsight import __version__
from medsight.allocator import keep_freed_memory
from medsight.cli import access as access_cmd
from medsight.cli import analyze as analyze_cmd
from medsight.cli import audit as audit_cmd
from medsight.cli import consent as consent_cmd
from medsight.cli import convert as convert_cmd
from medsight.cli import dataset as dataset_cmd
from medsight.cli import deid as deid_cmd
from medsight.cli import demo as demo_cmd
from medsight.cli import evaluate as evaluate_cmd
from medsight.cli import info as info_cmd
from medsight.cli import keys as keys_cmd
from medsight.cli import ledger as ledger_cmd
from medsight.cli import models as models_cmd
from medsight.cli import protocol as protocol_cmd
from medsight.cli import refusals as refusals_cmd
from medsight.cli import serve as serve_cmd
from medsight.cli import stream as stream_cmd
from medsight.cli import tasks as tasks_cmd
from medsight.cli import train as train_cmd
from medsight.cli._service import settings_error
from medsight.errors import MedsightError, exit_code_for
from medsight.parallel import short_openmp_spin

__all__ = ["app", "main"]

app = typer.Typer(
    name="medsight",
    help="Deep learning on medical images, end to end: DICOM in, calibrated and explained results out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
app.command("info")(info_cmd.info)
app.command("convert")(convert_cmd.convert)
app.command("deid")(deid_cmd.deid)
app.command("tasks")(tasks_cmd.tasks)
app.command("analyze")(analyze_cmd.analyze)
app.command("evaluate")(evaluate_cmd.evaluate)
app.command("train")(train_cmd.train)
app.command("refusals")(refusals_cmd.refusals)
app.command("demo")(demo_cmd.demo)
app.command("serve")(serve_cmd.serve)
app.command("stream")(stream_cmd.stream)
app.add_typer(access_cmd.tokens_app, name="tokens")
app.add_typer(access_cmd.users_app, name="users")
app.add_typer(consent_cmd.consent_app, name="consent")
app.add_typer(protocol_cmd.protocol_app, name="protocol")
app.add_typer(audit_cmd.audit_app, name="audit")
app.add_typer(models_cmd.models_app, name="models")
app.add_typer(ledger_cmd.ledger_app, name="ledger")
app.add_typer(keys_cmd.keys_app, name="keys")
app.add_typer(dataset_cmd.dataset_app, name="dataset")


def _reflowed(text: str) -> str:
    """A docstring's paragraphs as flowing text; lists and indented blocks keep their lines.

    Typer's rich mode keeps a docstring's line breaks, and the terminal then breaks each
    line again, leaving ragged help.
    """
    paragraphs = inspect.cleandoc(text).split("\n\n")
    kept = ("- ", "* ", " ", "\b")
    return "\n\n".join(
        paragraph if any(line.startswith(kept) for line in paragraph.splitlines()) else " ".join(paragraph.split("\n"))
        for paragraph in paragraphs
    )


def _reflow_help(group: typer.Typer) -> None:
    """Give every command of ``group`` (and of its sub-groups) its docstring, reflowed, as help."""
    for command in group.registered_commands:
        if command.help is None and command.callback is not None and command.callback.__doc__:
            command.help = _reflowed(command.callback.__doc__)
    for sub in group.registered_groups:
        if sub.typer_instance is not None:
            _reflow_help(sub.typer_instance)


_reflow_help(app)

_state = {"debug": False}
_OFF = ("0", "false", "no", "off")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"medsight {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show the traceback of an error.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress to stderr.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    _state["debug"] = debug
    if os.environ.get("MEDSIGHT_KEEP_FREED_MEMORY", "1").strip().lower() not in _OFF:
        keep_freed_memory()  # large images reuse freed heap instead of faulting in fresh pages
    short_openmp_spin()  # torch's idle threads free the cores soon for medsight's own bands
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    if not debug:
        # pydicom warns about every odd value it meets, quoting the value: those can be
        # patient data, and the reader reports what matters as typed warnings anyway.
        warnings.filterwarnings("ignore", module=r"pydicom(\..*)?$")
        logging.getLogger("pydicom").setLevel(logging.CRITICAL)
        # highdicom names the source instance's UID at INFO on every SEG and SR it builds
        # ("copy ... attributes from dataset <SOP Instance UID>"); the server logs at INFO.
        logging.getLogger("highdicom").setLevel(logging.WARNING)


def main() -> None:
    """Entry point of the console script."""
    try:
        # Standalone mode lets click report usage errors itself (exit 2) and exit.
        app(standalone_mode=True)
    except MedsightError as error:
        _report(error.code, error.message, exit_code_for(error))
    except ValidationError as error:  # a MEDSIGHT_* variable that does not parse
        usage = settings_error(error)
        _report(usage.code, usage.message, exit_code_for(usage))
    except Exception as error:  # a bug: still one line, the traceback only with --debug
        _report("internal", f"unexpected {type(error).__name__}; rerun with --debug and report it", 1)


def _report(code: str, message: str, exit_code: int) -> None:
    if _state["debug"]:
        traceback.print_exc()
    sys.stderr.write(f"error[{code}]: {message}\n")
    sys.exit(exit_code)
