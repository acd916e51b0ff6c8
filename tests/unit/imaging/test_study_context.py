"""StudyContext: patient data kept for writers, converted only when asked for, never printed."""

from __future__ import annotations

import copy
import pickle

from medsight.imaging import StudyContext


def test_a_deferred_context_converts_once_and_only_when_read() -> None:
    calls: list[int] = []

    def load() -> dict[str, str]:
        calls.append(1)
        return {"PatientName": "Doe^Jane", "StudyID": "42"}

    context = StudyContext.deferred(load)
    assert calls == []
    assert context["StudyID"] == "42"
    assert dict(context) == {"PatientName": "Doe^Jane", "StudyID": "42"}
    assert calls == [1]


def test_pickled_and_copied_contexts_carry_the_values_and_never_print_them() -> None:
    context = StudyContext.deferred(lambda: {"PatientName": "Doe^Jane"})
    for other in (pickle.loads(pickle.dumps(context)), copy.deepcopy(context)):
        assert dict(other) == {"PatientName": "Doe^Jane"}
        assert "Doe" not in repr(other)
        assert "Doe" not in str(other)
