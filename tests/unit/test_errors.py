"""Contract: every error class has a stable unique code and an exit code from the table."""

from __future__ import annotations

import pytest

from medsight import errors
from medsight.errors import EXIT_CODES, MedsightError, exit_code_for


def _all_error_classes() -> list[type[MedsightError]]:
    found: list[type[MedsightError]] = []
    pending: list[type[MedsightError]] = [MedsightError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


ALL = _all_error_classes()


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_every_error_class_has_an_exit_code(cls: type[MedsightError]) -> None:
    assert cls in EXIT_CODES, f"{cls.__name__} is missing from errors.EXIT_CODES"


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_every_error_class_is_exported(cls: type[MedsightError]) -> None:
    assert cls.__name__ in errors.__all__


def test_codes_are_unique_and_dotted() -> None:
    codes = [cls.code for cls in ALL]
    assert len(codes) == len(set(codes))
    assert all("." in code and code == code.lower() for code in codes)


@pytest.mark.parametrize(
    ("cls", "expected"),
    [
        (errors.UsageError, 2),
        (errors.InvalidDicomError, 3),
        (errors.ResourceLimitError, 3),
        (errors.PrivacyError, 4),
        (errors.IntegrityError, 5),
        (errors.OutputError, 1),
    ],
)
def test_exit_codes_follow_the_documented_table(cls: type[MedsightError], expected: int) -> None:
    assert exit_code_for(cls("x")) == expected


def test_a_subclass_without_its_own_row_takes_its_parents_code() -> None:
    class Custom(errors.InputError):
        code = "input.custom"

    assert exit_code_for(Custom("x")) == 3


def test_messages_are_one_line() -> None:
    assert errors.InputError("a\nb\n  c").message == "a b c"


def test_all_is_exact() -> None:
    public = {name for name in dir(errors) if not name.startswith("_")}
    exported = {n for n in public if isinstance(getattr(errors, n), type) or n in {"EXIT_CODES", "exit_code_for"}}
    exported -= {"ClassVar"}
    assert set(errors.__all__) == exported


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_every_error_class_has_an_http_status(cls: type[MedsightError]) -> None:
    from medsight.server.problems import HTTP_STATUS

    assert cls in HTTP_STATUS, f"{cls.__name__} is missing from server.problems.HTTP_STATUS"
    assert 400 <= HTTP_STATUS[cls] <= 599
