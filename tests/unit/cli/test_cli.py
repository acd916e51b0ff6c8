"""The command line as a user meets it: exit codes, one-line errors, JSON, fast start."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tests.data.synthetic import PLANTED, write_ct_series


def medsight(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "medsight", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_info_json_on_a_series(tmp_path: Path) -> None:
    write_ct_series(tmp_path, slices=6, rows=16, columns=16, missing=(2,))
    done = medsight("info", tmp_path, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    (image,) = report["images"]
    assert image["modality"] == "CT"
    assert image["layout"] == "volume"
    assert image["shape"] == [6, 16, 16]
    assert image["instances"] == 5
    assert image["transfer_syntax_name"] == "Explicit VR Little Endian"
    assert any("missing" in w for w in image["warnings"])
    for value in PLANTED.values():
        assert value not in done.stdout + done.stderr


def test_info_table_for_people(pydicom_test_files: Path) -> None:
    done = medsight("info", pydicom_test_files / "CT_small.dcm")
    assert done.returncode == 0
    assert "CT" in done.stdout
    assert "128 x 128" in done.stdout


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "input.unsupported_format"),
        (b"\x00" * 128 + b"DICM" + b"\x02\x00\x10\x00UI\x04\x00" + b"1.2" * 50, "input.invalid_dicom"),
        (bytes(range(256)) * 4, "input.unsupported_format"),
    ],
)
def test_bad_input_is_one_line_and_exit_3(tmp_path: Path, content: bytes, code: str) -> None:
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(content)
    done = medsight("info", bad)
    assert done.returncode == 3
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"error[{code}]") or lines[0].startswith("error[input.")
    assert "Traceback" not in done.stderr


def test_truncated_pixels_give_exit_3_and_debug_shows_the_traceback(pydicom_test_files: Path) -> None:
    done = medsight("convert", pydicom_test_files / "MR_truncated.dcm", "out.png")
    assert done.returncode == 3
    assert done.stderr.startswith("error[input.pixel_decode]")
    debug = medsight("--debug", "convert", pydicom_test_files / "MR_truncated.dcm", "out.png")
    assert "Traceback" in debug.stderr
    assert debug.returncode == 3


def test_missing_path_and_usage_errors() -> None:
    assert medsight("info", "/no/such/file.dcm").returncode == 3
    assert medsight("info").returncode == 2
    assert medsight("convert", "a.dcm").returncode == 2


def test_an_invalid_setting_is_one_line_naming_it_never_its_value(
    pydicom_test_files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The process-wide settings (read limits, read workers), not only the service's.
    monkeypatch.setenv("MEDSIGHT_READ_WORKERS", "twelve-secret")
    done = medsight("info", pydicom_test_files / "CT_small.dcm")
    assert done.returncode == 2
    assert done.stderr == "error[usage.invalid]: invalid setting(s): MEDSIGHT_READ_WORKERS (see medsight.settings)\n"
    assert "twelve-secret" not in done.stderr


@pytest.mark.parametrize("suffix", [".nii.gz", ".png", ".dcm"])
def test_convert_writes_each_format(tmp_path: Path, suffix: str) -> None:
    write_ct_series(tmp_path / "series", slices=4, rows=16, columns=16)
    output = tmp_path / f"out{suffix}"
    done = medsight("convert", tmp_path / "series", output, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["shape"] == [4, 16, 16]
    assert output.stat().st_size > 0


def test_convert_refuses_an_unknown_suffix_and_writes_nothing(tmp_path: Path, pydicom_test_files: Path) -> None:
    done = medsight("convert", pydicom_test_files / "CT_small.dcm", tmp_path / "out.bmp")
    assert done.returncode == 2
    assert done.stderr.startswith("error[usage.invalid]")
    assert list(tmp_path.iterdir()) == []


def test_commands_without_models_import_neither_torch_nor_monai(pydicom_test_files: Path) -> None:
    probe = (
        "import sys\n"
        "from medsight.cli.app import main\n"
        f"sys.argv = ['medsight', 'info', {str(pydicom_test_files / 'CT_small.dcm')!r}, '--json']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in ('torch', 'monai') if m in sys.modules)\n"
        "sys.stderr.write('HEAVY=' + ','.join(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    assert "HEAVY=" in done.stderr
    assert done.stderr.rsplit("HEAVY=", 1)[1].strip() == ""


def test_help_lists_the_commands() -> None:
    done = medsight("--help")
    assert done.returncode == 0
    assert "info" in done.stdout
    assert "convert" in done.stdout


def test_no_help_text_holds_square_brackets_that_rich_markup_would_swallow() -> None:
    # Typer renders help with rich markup: "[default: never]" printed as nothing at all.
    import re

    import typer.main

    from medsight.cli.app import app

    def walk(command: object, path: str) -> list[str]:
        found = []
        for param in getattr(command, "params", []):
            text = getattr(param, "help", None) or ""
            if re.search(r"\[[a-z][^\]]*\]", text):
                found.append(f"{path} {param.name}: {text}")
        doc = getattr(command, "help", None) or ""
        if re.search(r"\[default[^\]]*\]", doc):
            found.append(f"{path}: docstring")
        for name, child in getattr(command, "commands", {}).items():
            found += walk(child, f"{path} {name}")
        return found

    assert walk(typer.main.get_command(app), "medsight") == []


def test_command_help_flows_as_paragraphs() -> None:
    # Typer's rich mode keeps a docstring's line breaks and the terminal then wraps each
    # line again: "... the exit code\nis 3" in an 80-column help. Every command's help
    # comes reflowed; lists and indented blocks keep their lines.
    import typer.main

    from medsight.cli.app import _reflowed, app

    def walk(command: object, path: str) -> list[str]:
        found = []
        help_text = getattr(command, "help", None) or ""
        if path != "medsight" and not help_text:
            found.append(f"{path}: no help")
        found += [f"{path}: {p[:40]!r}" for p in help_text.split("\n\n")[1:] if "\n" in p]
        for name, child in getattr(command, "commands", {}).items():
            found += walk(child, f"{path} {name}")
        return found

    assert walk(typer.main.get_command(app), "medsight") == []
    assert _reflowed("First.\n\n    Second line\n    goes on.\n") == "First.\n\nSecond line goes on."
    assert _reflowed("First.\n\n- one\n- two") == "First.\n\n- one\n- two"


def test_a_folders_unreadable_file_is_listed_with_its_code_and_name(tmp_path: Path) -> None:
    # Codes and names are printed as text: "[input.invalid_dicom]" is also a valid rich tag.
    (tmp_path / "broken [1].dcm").write_bytes(b"not an image")
    done = medsight("info", tmp_path)
    assert "[input.invalid_dicom] broken [1].dcm:" in done.stderr, done.stderr
