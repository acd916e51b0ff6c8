"""The fairness audit: planted bias is caught, fair cohorts pass, numbers match sklearn/Fairlearn."""

from __future__ import annotations

import numpy as np
import pytest
from fairlearn.metrics import equalized_odds_difference
from numpy.typing import NDArray
from sklearn.metrics import confusion_matrix, precision_score, recall_score, roc_auc_score

from medsight.audit import UNRECORDED, FairnessGate
from medsight.audit.fairness import AuditOptions, audit_attribute, wilson_interval
from medsight.audit.report import fairness_audit
from medsight.errors import UsageError
from medsight.metrics import expected_calibration_error

THRESHOLD = 0.5


def cohort(
    n: int = 400, *, shift: float = 0.0, seed: int = 0
) -> tuple[NDArray[np.int64], NDArray[np.float64], list[str]]:
    """Labels, calibrated-ish scores and sex; ``shift`` lowers the female positives' logits (underdiagnosis)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    sex = rng.choice(["female", "male"], n)
    logit = rng.normal(0.0, 1.0, n) + np.where(y == 1, 1.6, -1.6)
    logit = logit - shift * ((sex == "female") & (y == 1))
    return y, 1.0 / (1.0 + np.exp(-logit)), list(sex)


def audit_sex(y: NDArray[np.int64], p: NDArray[np.float64], sex: list[str], **kw: object) -> dict[str, object]:
    report = fairness_audit(y, p, {"sex": sex}, AuditOptions(threshold=THRESHOLD, n_boot=200, **kw))  # type: ignore[arg-type]
    return report.to_dict()


def test_a_fair_cohort_passes_the_default_gate() -> None:
    report = audit_sex(*cohort(shift=0.0))
    assert report["passed"] is True
    assert report["gate"]["checks"][0]["verdict"] == "pass"
    assert report["gaps"]["sex"]["equalized_odds_difference"] < 0.10


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_planted_underdiagnosis_of_one_group_is_caught(seed: int) -> None:
    report = audit_sex(*cohort(shift=1.5, seed=seed))
    assert report["passed"] is False
    gaps = report["gaps"]["sex"]
    assert gaps["equalized_odds_difference"] > 0.10
    low, high = gaps["equalized_odds_difference_ci"]
    assert 0.10 < low <= gaps["equalized_odds_difference"] <= high
    female = next(g for g in report["groups"]["sex"] if g["value"] == "female")
    male = next(g for g in report["groups"]["sex"] if g["value"] == "male")
    assert female["fnr"] > male["fnr"] + 0.10  # the underdiagnosed group misses more


def test_group_metrics_match_a_reference_computation() -> None:
    y, p, sex = cohort(n=500, shift=0.7, seed=3)
    audit = audit_attribute("sex", sex, y, p, AuditOptions(threshold=THRESHOLD, n_boot=50))
    values = np.asarray(sex)
    for record in audit.groups:
        members = values == record["value"]
        yg, pg = y[members], p[members]
        called = (pg >= THRESHOLD).astype(int)
        tn, fp, fn, tp = confusion_matrix(yg, called, labels=[0, 1]).ravel()
        assert record["n"] == members.sum()
        assert record["positives"] == yg.sum()
        assert record["prevalence"] == pytest.approx(yg.mean(), abs=1e-4)
        assert record["auc"] == pytest.approx(roc_auc_score(yg, pg), abs=1e-4)
        assert record["sensitivity"] == pytest.approx(recall_score(yg, called), abs=1e-4)
        assert record["specificity"] == pytest.approx(tn / (tn + fp), abs=1e-4)
        assert record["ppv"] == pytest.approx(precision_score(yg, called), abs=1e-4)
        assert record["fnr"] == pytest.approx(fn / (fn + tp), abs=1e-4)
        assert record["fpr"] == pytest.approx(fp / (fp + tn), abs=1e-4)
        assert record["ece"] == pytest.approx(expected_calibration_error(yg, pg), abs=1e-4)
    reference = equalized_odds_difference(y, (p >= THRESHOLD).astype(int), sensitive_features=values)
    assert audit.gaps["equalized_odds_difference"] == pytest.approx(reference, abs=1e-4)
    female, male = (next(r for r in audit.groups if r["value"] == v) for v in ("female", "male"))
    assert audit.gaps["auc_difference"] == pytest.approx(abs(female["auc"] - male["auc"]), abs=2e-4)


def test_every_metric_has_a_ci_that_holds_its_point_estimate() -> None:
    y, p, sex = cohort(n=600, seed=4)
    audit = audit_attribute("sex", sex, y, p, AuditOptions(threshold=THRESHOLD, n_boot=300))
    for record in audit.groups:
        for metric in ("prevalence", "auc", "sensitivity", "specificity", "ppv", "fnr", "fpr"):
            low, high = record[f"{metric}_ci"]
            assert low <= record[metric] <= high, metric


def test_small_groups_are_reported_but_never_judged() -> None:
    y, p, sex = cohort(n=400, seed=5)
    sex = [s if i >= 20 else "other" for i, s in enumerate(sex)]  # 20 cases: below 30
    sex[20:23] = [UNRECORDED] * 3
    audit = audit_attribute("sex", sex, y, p, AuditOptions(threshold=THRESHOLD, n_boot=50))
    status = {r["value"]: r["status"] for r in audit.groups}
    assert status == {"female": "judged", "male": "judged", "other": "too_small", UNRECORDED: "unrecorded"}
    assert sorted(audit.gaps["compared"]) == ["female", "male"]
    assert {e["value"] for e in audit.gaps["excluded"]} == {"other", UNRECORDED}


def test_the_gate_is_not_judged_when_fewer_than_two_groups_are_large_enough() -> None:
    y, p, sex = cohort(n=80, shift=3.0, seed=6)
    options = AuditOptions(threshold=THRESHOLD, n_boot=50, min_group_n=60)
    report = fairness_audit(y, p, {"sex": sex}, options, FairnessGate(min_group_n=60))
    data = report.to_dict()
    assert data["gaps"]["sex"]["equalized_odds_difference"] is None
    assert data["gate"]["checks"][0]["verdict"] == "not_judged"
    assert data["passed"] is True


def test_the_json_contract_has_groups_gaps_gate_and_passed() -> None:
    y, p, sex = cohort(n=300, seed=7)
    bands = ["18-39" if i % 2 else "40-59" for i in range(300)]
    both = [f"{s}*{b}" for s, b in zip(sex, bands, strict=True)]
    data = fairness_audit(
        y, p, {"sex": sex, "age_band": bands, "sex*age_band": both}, AuditOptions(threshold=0.4, n_boot=50)
    ).to_dict()
    assert {"threshold", "overall", "groups", "gaps", "gate", "passed"} <= set(data)
    assert set(data["groups"]) == set(data["gaps"]) == {"sex", "age_band", "sex*age_band"}
    assert len(data["groups"]["sex*age_band"]) == 4
    assert {"attributes", "max_equalized_odds_difference", "min_group_n", "checks"} <= set(data["gate"])
    for record in data["groups"]["sex"]:
        assert all(f"{m}_ci" in record for m in ("auc", "sensitivity", "specificity", "ppv", "fnr", "ece"))
    assert data["overall"]["n"] == 300


def test_the_same_seed_gives_the_same_intervals() -> None:
    y, p, sex = cohort(n=200, seed=8)
    first, second = (audit_sex(y, p, sex, seed=11) for _ in range(2))
    assert first == second


def test_a_stricter_gate_fails_what_the_default_passes() -> None:
    y, p, sex = cohort(shift=0.35, seed=9)
    options = AuditOptions(threshold=THRESHOLD, n_boot=50)
    eod = audit_attribute("sex", sex, y, p, options).gaps["equalized_odds_difference"]
    strict = FairnessGate(max_equalized_odds_difference=eod / 2)
    lenient = FairnessGate(max_equalized_odds_difference=min(1.0, eod * 2))
    assert not fairness_audit(y, p, {"sex": sex}, options, strict).passed
    assert fairness_audit(y, p, {"sex": sex}, options, lenient).passed


def test_a_gate_attribute_that_was_not_audited_is_a_usage_error() -> None:
    y, p, sex = cohort(n=100, seed=10)
    with pytest.raises(UsageError, match="did not cover"):
        fairness_audit(y, p, {"source": sex}, AuditOptions(threshold=THRESHOLD, n_boot=20))


def test_wilson_interval_matches_the_textbook_value() -> None:
    # Wilson 95% for 8/10: (0.4902, 0.9433), Newcombe (1998) Table I.
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4)
    assert high == pytest.approx(0.9433, abs=1e-4)
