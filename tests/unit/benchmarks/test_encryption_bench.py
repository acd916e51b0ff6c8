"""The encryption-at-rest benchmark measures both paths for both sizes and reports its targets."""

from __future__ import annotations

from pathlib import Path

from benchmarks.encryption import EncryptionEffort, encryption_section, encryption_targets, measure_encryption


def test_a_tiny_run_reports_every_ratio(tmp_path: Path) -> None:
    results = measure_encryption(tmp_path, EncryptionEffort(objects=3, rounds=2))
    assert [r.objects for r in results] == [3, 3]
    for result in results:
        assert result.ingest_plain_s > 0
        assert result.read_sealed_s > 0
    assert results[1].object_bytes > 8_000_000  # the radiograph really is 2048 x 2048 x 16 bit
    lines = encryption_targets(results)
    assert len(lines) == 4
    assert all(line.startswith("- encryption at rest") and line.endswith(("PASS", "FAIL")) for line in lines)
    section = encryption_section(results, "python -m benchmarks.run --only encryption")
    assert section.startswith("## Encryption at rest (issue 8)")
    assert "`python -m benchmarks.run --only encryption`" in section
    assert list(tmp_path.iterdir()) == [tmp_path / "master.key"]  # every store removed
