"""``medsight protocol``: imaging-protocol recommendations from a patient profile (issue 10).

``indications`` lists what the knowledge base answers; ``recommend --profile FILE``
ranks the examinations for one profile (a JSON object with the fields of
:class:`medsight.protocols.PatientProfile`; ``-`` reads standard input). An invalid or
contradictory profile ends with ``error[protocol.invalid_profile]`` naming the field
(exit 3); a profile that lacks a deciding field prints which and why (exit 0, ``status:
needs_input`` in ``--json``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from medsight.errors import FileNotFoundInputError, ProfileError

__all__ = ["protocol_app"]

protocol_app = typer.Typer(
    help="Imaging-protocol recommendations: ranked, explained and cited (ACR Appropriateness Criteria style).",
    no_args_is_help=True,
)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]
_PROFILE_HELP = (
    "A JSON profile: age, sex, indication (required); pregnant, weight_kg, findings, family_history, history, "
    "smoking {pack_years, years_since_quit (null: smokes now)}, egfr, on_dialysis, contrast_allergy, "
    "implants [{type, mri_status}], claustrophobia, prior_imaging [{modality, date, effective_dose_msv}], "
    "risk_factors. '-' reads standard input."
)


@protocol_app.command("indications")
def list_indications(as_json: JsonOption = False) -> None:
    """List the indication codes with their names, pathways and the findings each reads."""
    from medsight.services.protocols import indications

    rows = indications()
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        findings = ", ".join(row["findings"]) or "-"
        typer.echo(f"{row['code']}: {row['name']} [{', '.join(row['pathways'])}] findings: {findings}")


@protocol_app.command("recommend")
def recommend(
    profile: Annotated[Path, typer.Option("--profile", help=_PROFILE_HELP, show_default=False)],
    as_json: JsonOption = False,
    fhir: Annotated[bool, typer.Option("--fhir", help="With --json: add the FHIR R4B ServiceRequest draft.")] = False,
) -> None:
    """Rank the imaging examinations for one patient profile, with reasons, warnings and risk."""
    from medsight.services.protocols import recommend_json

    answer = recommend_json(_read(profile), fhir=fhir)
    if as_json:
        typer.echo(json.dumps(answer, indent=2, ensure_ascii=False))
        return
    _render(answer)


def _read(path: Path) -> Any:
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise FileNotFoundInputError(f"{path}: no such profile file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise FileNotFoundInputError(f"{path}: cannot read the profile ({type(exc).__name__})") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        # Position only: the text is patient data.
        raise ProfileError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno})") from None


def _render(answer: dict[str, Any]) -> None:
    echo = typer.echo
    indication = answer["indication"]
    echo(f"{indication['name']} ({indication['code']}), {answer['pathway']} pathway")
    if answer["status"] == "needs_input":
        echo("No recommendation yet: the profile lacks")
        for missing in answer["missing"]:
            echo(f"  {missing['field']}: {missing['reason']}")
    for rec in answer["recommendations"]:
        rating, rrl = rec["appropriateness"], rec["relative_radiation_level"]
        echo(
            f"{rec['rank']}. {rec['procedure']} [{rec['modality']}, contrast {rec['contrast']}] "
            f"{rating['rating']}/9 {rating['category']}; RRL {rrl['level']} ({rrl['effective_dose_range']})"
        )
        outcome = rec["expected_outcome"]
        accuracy = ""
        if outcome.get("sensitivity") is not None:
            accuracy = f" (sensitivity {outcome['sensitivity']:.0%}, specificity {outcome['specificity']:.0%})"
        echo(f"   shows: {outcome['shows']}{accuracy}")
        if outcome.get("note"):
            echo(f"   when: {outcome['note']}")
        for adjustment in rec["adjustments"]:
            echo(f"   adjust: {adjustment}")
        if rec["rank"] == 1:
            for reason in rec["reasons"]:
                echo(f"   why: {reason['statement']} [{reason['citation']['title']}]")
    for warning in answer["warnings"]:
        echo(f"warning[{warning['code']}] ({warning['severity']}): {warning['message']}")
    for assumption in answer["assumptions"]:
        echo(f"assumed {assumption['field']}: {assumption['statement']}")
    for name, risk in answer["risk"].items():
        value = "not computed" if risk["percent"] is None else f"{risk['percent']}% over {risk['horizon']}"
        echo(f"risk {risk['model']} ({name}): {value}")
    echo(f"knowledge base {answer['knowledge_base_version']}; {answer['disclaimer']}")
