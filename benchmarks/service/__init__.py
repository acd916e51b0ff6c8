"""The service benchmark of issue 4: medsight's DICOMweb service and analysis jobs, against Orthanc.

Modules, lowest first: :mod:`~benchmarks.service.stats` (percentiles),
:mod:`~benchmarks.service.workload` (instances, bytes, queries),
:mod:`~benchmarks.service.multipart`, :mod:`~benchmarks.service.client` (one DICOMweb
client for both servers), :mod:`~benchmarks.service.servers` (start them),
:mod:`~benchmarks.service.phases` (ingest, query, retrieve), :mod:`~benchmarks.service.jobs`,
:mod:`~benchmarks.service.memory`, :mod:`~benchmarks.service.diagnose` (where STOW time
goes), :mod:`~benchmarks.service.machine` (CPU taken by other processes),
:mod:`~benchmarks.service.measure` (one run) and :mod:`~benchmarks.service.report`.
Nothing is imported here, so importing a pure module does not start anything.
"""
