"""Benchmarks of medsight's readers (against pydicom and SimpleITK), of its models, and of
its service (against Orthanc: :mod:`benchmarks.service`).

Run ``python -m benchmarks.run`` from the repository root; it measures everything and
writes BENCHMARKS.md. medsight never imports this package; ``tests/unit/benchmarks``
runs the model benchmarks once on a tiny bundle, so that they keep working.
"""

from medsight.parallel import short_openmp_spin

# As the `medsight` command does on start, and before any benchmark module imports torch:
# libgomp reads its spin count once, when torch loads it.
short_openmp_spin()
