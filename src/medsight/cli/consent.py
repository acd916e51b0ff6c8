"""``medsight consent``: record and read patients' consent, by pseudonym (issue 8)."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Annotated

import typer

from medsight.cli._service import DataDirOption, open_context
from medsight.privacy.consent import Purpose, in_force
from medsight.services.consent import history, patient_pseudonym, record_consent
from medsight.services.deid import load_key
from medsight.store.consent import ConsentLog
from medsight.store.training_runs import TrainingRuns

__all__ = ["consent_app"]

consent_app = typer.Typer(help="Record and read patients' consent (stored by pseudonym).", no_args_is_help=True)

_PURPOSES = ", ".join(p.value for p in Purpose)
PatientOption = Annotated[
    str | None, typer.Option("--patient-id", help="The Patient ID (stored only as its keyed pseudonym).")
]
PseudonymOption = Annotated[str | None, typer.Option("--pseudonym", help="The patient's pseudonym (ANON-...).")]
PurposeOption = Annotated[str, typer.Option("--purpose", help=f"One of: {_PURPOSES}.")]
PartyOption = Annotated[str | None, typer.Option("--party", help="The remote party (sharing only).")]
DocumentOption = Annotated[str | None, typer.Option("--document", help="Where the signed form is.")]
ByOption = Annotated[str | None, typer.Option("--by", help="Who records it (default: this system user).")]
KeyOption = Annotated[Path | None, typer.Option("--key-file", help="The de-identification key (for --patient-id).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]


def _record(
    granted: bool,
    patient_id: str | None,
    pseudonym: str | None,
    purpose: str,
    party: str | None,
    document: str | None,
    by: str | None,
    key_file: Path | None,
    data_dir: Path | None,
) -> None:
    who = _who(patient_id, pseudonym, key_file)
    with open_context(data_dir) as context:
        decision = record_consent(
            ConsentLog(context.store.sessions),
            who,
            purpose,
            granted=granted,
            recorded_by=by or f"cli:{getpass.getuser()}",
            party=party,
            document_ref=document,
        )
    state = "granted" if decision.granted else "withdrawn"
    party_text = f" with {decision.party}" if decision.party else ""
    typer.echo(f"{decision.pseudonym}: {decision.purpose.value}{party_text} {state}")


@consent_app.command("grant")
def grant(
    purpose: PurposeOption,
    patient_id: PatientOption = None,
    pseudonym: PseudonymOption = None,
    party: PartyOption = None,
    document: DocumentOption = None,
    by: ByOption = None,
    key_file: KeyOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Record that a patient consents to a purpose."""
    _record(True, patient_id, pseudonym, purpose, party, document, by, key_file, data_dir)


@consent_app.command("withdraw")
def withdraw(
    purpose: PurposeOption,
    patient_id: PatientOption = None,
    pseudonym: PseudonymOption = None,
    party: PartyOption = None,
    document: DocumentOption = None,
    by: ByOption = None,
    key_file: KeyOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Record that a patient withdraws consent to a purpose (later exports leave them out)."""
    _record(False, patient_id, pseudonym, purpose, party, document, by, key_file, data_dir)


@consent_app.command("show")
def show(
    patient_id: PatientOption = None,
    pseudonym: PseudonymOption = None,
    key_file: KeyOption = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """A patient's decisions, oldest first, and what is in force."""
    who = _who(patient_id, pseudonym, key_file)
    with open_context(data_dir) as context:
        decisions = history(ConsentLog(context.store.sessions), who)
    current = {
        f"{p.value}{':' + party if party else ''}": in_force(decisions, p, party)[who]
        for p, party in sorted({(d.purpose, d.party) for d in decisions})
    }
    if as_json:
        typer.echo(json.dumps({"pseudonym": who, "in_force": current, "decisions": len(decisions)}))
        return
    typer.echo(f"{who}: {len(decisions)} decision(s)")
    for name, granted in current.items():
        typer.echo(f"  {name}: {'granted' if granted else 'withdrawn'}")


@consent_app.command("usage")
def usage(
    patient_id: PatientOption = None,
    pseudonym: PseudonymOption = None,
    key_file: KeyOption = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Which model versions a patient's data trained (from the training-run register)."""
    who = _who(patient_id, pseudonym, key_file)
    with open_context(data_dir) as context:
        runs = TrainingRuns(context.store.sessions).runs_using(who)
    if as_json:
        typer.echo(json.dumps({"pseudonym": who, "runs": [run.to_dict() for run in runs]}))
        return
    if not runs:
        typer.echo(f"{who}: no recorded training run used this patient's data")
        return
    typer.echo(f"{who}: {len(runs)} training run(s)")
    for run in runs:
        when = f"{run.created_at:%Y-%m-%d %H:%M}"
        typer.echo(f"  {when} {run.model_name} {run.model_version} ({run.task}, run {run.run_id})")


def _who(patient_id: str | None, pseudonym: str | None, key_file: Path | None) -> str:
    """The pseudonym named, or the keyed one of the Patient ID (the key is read only then)."""
    key = load_key(key_file) if patient_id is not None else None
    return patient_pseudonym(patient_id, pseudonym, key)
