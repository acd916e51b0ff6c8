"""``medsight protocol``: indications, recommend (text and --json), errors naming the field, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from medsight.cli.app import app
from medsight.errors import FileNotFoundInputError

runner = CliRunner()


def _profile(tmp_path: Path, profile: dict[str, object]) -> Path:
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(profile))
    return path


def test_indications_lists_all_26_codes() -> None:
    result = runner.invoke(app, ["protocol", "indications", "--json"])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) >= 26
    text = runner.invoke(app, ["protocol", "indications"]).stdout
    assert "suspected_appendicitis: Suspected acute appendicitis [adult, paediatric, pregnancy]" in text


def test_recommend_text_and_json(tmp_path: Path) -> None:
    path = _profile(tmp_path, {"age": 9, "sex": "male", "indication": "suspected_appendicitis", "egfr": 22})
    text = runner.invoke(app, ["protocol", "recommend", "--profile", str(path)])
    assert text.exit_code == 0, text.output
    assert text.stdout.splitlines()[1].startswith("1. Ultrasound right lower quadrant")
    assert "warning[contrast_egfr_below_30]" in text.stdout
    answer = json.loads(
        runner.invoke(app, ["protocol", "recommend", "--profile", str(path), "--json", "--fhir"]).stdout
    )
    assert answer["recommendations"][0]["modality"] == "US"
    assert answer["fhir_service_request"]["resourceType"] == "ServiceRequest"


def test_recommend_reads_standard_input() -> None:
    profile = {"age": 40, "sex": "male", "indication": "minor_head_trauma", "findings": {"criteria": []}}
    result = runner.invoke(app, ["protocol", "recommend", "--profile", "-", "--json"], input=json.dumps(profile))
    assert json.loads(result.stdout)["recommendations"][0]["procedure_id"] == "no_imaging"


def test_a_missing_deciding_field_is_named(tmp_path: Path) -> None:
    profile = {"age": 60, "sex": "male", "indication": "lung_cancer_screening", "smoking": {"pack_years": 30}}
    result = runner.invoke(app, ["protocol", "recommend", "--profile", str(_profile(tmp_path, profile))])
    assert result.exit_code == 0
    assert "smoking.status" in result.stdout


def test_a_missing_file_is_an_input_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["protocol", "recommend", "--profile", str(tmp_path / "nope.json")])
    assert isinstance(result.exception, FileNotFoundInputError)


def test_errors_are_one_line_naming_the_field_exit_3(tmp_path: Path) -> None:
    # One interpreter for both cases: main()'s rendering of errors is what is under test.
    contradiction = _profile(tmp_path, {"age": 40, "sex": "male", "pregnant": True, "indication": "chronic_cough"})
    bad = tmp_path / "bad.json"
    bad.write_text('{"age": 40, "name": "Jane Doe",')
    script = (
        "import sys\nfrom medsight.cli.app import main\n"
        f"for p in ({str(contradiction)!r}, {str(bad)!r}):\n"
        "    sys.argv = ['medsight', 'protocol', 'recommend', '--profile', p]\n"
        "    try:\n        main()\n    except SystemExit as e:\n        print('exit', e.code)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=120)
    assert result.stdout.split() == ["exit", "3", "exit", "3"]
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error[protocol.invalid_profile]: pregnant: ")
    assert lines[1].startswith("error[protocol.invalid_profile]: ")
    assert "Jane" not in result.stderr
