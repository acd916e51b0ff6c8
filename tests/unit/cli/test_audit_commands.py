"""medsight audit fairness and medsight models promote as a user meets them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.unit.cli.test_cli import medsight

from medsight.models.bundle import load_bundle


def test_audit_then_promote_through_the_gate(synthetic_tb: Path, tiny_bundle: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, bundle)
    data_dir = tmp_path / "var"
    refused = medsight("models", "promote", bundle, "1.0.0", "--data-dir", data_dir)
    assert refused.returncode == 7, refused.stderr
    assert refused.stderr.startswith("error[model.release_refused]: ")
    assert "no fairness audit" in refused.stderr

    report = tmp_path / "audit.html"
    done = medsight(
        "audit", "fairness", "--task", "cxr-pneumonia", "--data", synthetic_tb, "--split", "val",
        "--model", bundle, "--groups", "sex,age_band,source", "--min-group-n", "10", "--bootstrap", "100",
        "--report", report, "--record", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert {"groups", "gaps", "gate", "passed"} <= set(document)
    assert set(document["groups"]) == {"sex", "age_band", "source", "sex*age_band"}
    assert report.read_text(encoding="utf-8").startswith("<!doctype html>")
    assert load_bundle(bundle).metadata.medsight.audit["passed"] == document["passed"]

    # The gate at promotion is the configured one: a limit of 0 fails any real model,
    # and an override is recorded with its reason.
    strict = ("--max-eod", "0", "--min-group-n", "10", "--data-dir", data_dir)
    assert medsight("models", "promote", bundle, "1.0.0", *strict).returncode == 7
    reason = "pilot at one site, reviewed by the clinical safety officer"
    forced = medsight("models", "promote", bundle, "1.0.0", *strict, "--override-reason", reason, "--json")
    assert forced.returncode == 0, forced.stderr
    assert json.loads(forced.stdout)["override"]["reason"] == reason
    listed = medsight("models", "list", "--data-dir", data_dir, "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert rows["cxr-tuberculosis-96"]["networks"] == 3  # the shipped ensemble
    assert rows["cxr-pneumonia-224"]["networks"] == 1
