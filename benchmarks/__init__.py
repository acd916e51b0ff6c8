"""Benchmarks of medsight's readers against pydicom and SimpleITK.

Run ``python -m benchmarks.run`` from the repository root; it measures everything and
writes BENCHMARKS.md. Nothing here is imported by medsight or by its tests.
"""
