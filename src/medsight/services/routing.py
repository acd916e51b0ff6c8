"""Routing rules: which arriving series start which analysis, without anyone asking.

After a STOW-RS stores instances, the service calls its ingest listeners
(:meth:`ServiceContext.notify_ingested`); :class:`Router` is one. For each series that
received instances it reads the series' Modality and Body Part Examined from the store,
takes the SOP Classes of what arrived, and queues one job per matching task for that
series, on behalf of the sender (so a referrer can read the result of what it sent).
Jobs are idempotent, so a series sent twice is analysed once.

A rule matches when every criterion it names matches (criteria left out match anything):

* ``modalities``: Modality, e.g. ``["CR", "DX"]``;
* ``body_parts``: Body Part Examined, case-insensitive; ``""`` stands for "not recorded";
* ``sop_classes``: SOP Class UIDs of the arriving instances (one of them must be listed);
* ``min_age_years``: the patient's age at the study (from Patient's Birth Date and Study
  Date) is at least this; a rule with it matches only when the age is known;
* ``descriptions``: Series Description contains one of these terms (case-insensitive);
  a series without a description does not match;
* ``exclude_descriptions``: no word of Series Description (split at anything but letters
  and digits) is one of these, case-insensitive;
* ``min_instances``: the series holds at least this many stored instances when the
  rule is tried.

When rules are tried: a sender may store a series one instance per request, and nothing
says which is the last. Rules of tasks that read one image try each arrival (a job pins
the series' images at that moment; a later arrival makes a second job with more). Rules
of tasks that read a whole series (volume segmentation) wait until the series is stable,
``MEDSIGHT_ROUTING_STABLE_S`` seconds (30 by default) without a new instance, as
Orthanc's ``StableAge`` does, so that one job segments the whole volume instead of one
job, and one partial DICOM SEG, per arrival. Waiting series are kept in the database
(:mod:`medsight.store.pending_routes`): a restart does not lose them. A sender that knows
its series are whole (``medsight serve --demo``) routes them at once.

Rules come from a JSON file (``MEDSIGHT_ROUTING_RULES``)::

    {"rules": [
      {"task": "cxr-pneumonia", "modalities": ["CR", "DX"], "body_parts": ["CHEST", ""]}
    ]}

Without a file, :data:`DEFAULT_RULES` apply: CR and DX series, and series of CR or
Digital X-Ray SOP classes whatever their Modality says (DX-like), whose body part is
a chest (CHEST, THORAX, LUNG, PORT CHEST: what both chest tasks accept) or not recorded,
go to both chest X-ray tasks, ``cxr-tuberculosis`` and ``cxr-pneumonia``: one job each;
tuberculosis only for patients known to be 15 or older, as its model card says it is not
for children (on the paediatric Kermany films it calls most normal films TB).
MR series of the brain or head (Body Part Examined BRAIN, HEAD, HEADNECK, SKULL,
CEREBRUM, or not recorded) whose Series Description names FLAIR (or Siemens' "dark
fluid"), not a sagittal or coronal plane, with at least 8 instances, go to
``mri-brain-tumour`` (:data:`MRI_BRAIN_TUMOUR_RULE`): its model reads one axial FLAIR
series, greyscale, of at least 8 slices (the LGG subset's FLAIR channel; it refuses
colour, a single image and a thinner stack, and other sequences would give meaningless
masks that no check catches, so the description decides). ``mri-hippocampus`` gets no
built-in rule (:data:`NO_RULE`). The pneumonia rules come last, so its job is the study's newest, which the worklist's
status column follows as it did before TB screening existed; the worklist's findings
and the viewer's AI panel list both tasks. A task whose model is not installed is
skipped with a warning, the others still run. The tasks' own acceptance checks still
refuse what is not a frontal chest film; routing only decides what is worth trying.
"""

from __future__ import annotations

import json
import logging
import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from medsight.access import Principal
from medsight.errors import MedsightError, UsageError
from medsight.services.jobs import AnalysisRequest, JobService
from medsight.store import IngestResult, SeriesQuery, StudyQuery
from medsight.store.pending_routes import PendingRoutes
from medsight.tasks import get_task
from medsight.tasks.registry import TaskKind

__all__ = [
    "CHEST_XRAY_TASKS",
    "DEFAULT_RULES",
    "MRI_BRAIN_TUMOUR_RULE",
    "NO_RULE",
    "TB_MIN_AGE_YEARS",
    "Router",
    "RoutingRule",
    "age_at_study",
    "load_rules",
]

_log = logging.getLogger(__name__)

_CR_IMAGE = "1.2.840.10008.5.1.4.1.1.1"
_DX_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1"
_DX_PROCESSING = "1.2.840.10008.5.1.4.1.1.1.1.1"
# The body parts the chest X-ray tasks accept (FRONTAL_CHEST_XRAY), and "not recorded".
_CHEST = ("CHEST", "THORAX", "LUNG", "PORT CHEST", "")


class RoutingRule(BaseModel):
    """One rule: criteria (all must match; an omitted one matches anything) and a task."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    task: str
    modalities: tuple[str, ...] = ()
    body_parts: tuple[str, ...] = ()
    sop_classes: tuple[str, ...] = ()
    min_age_years: float | None = Field(default=None, ge=0, le=130)
    descriptions: tuple[str, ...] = ()
    exclude_descriptions: tuple[str, ...] = ()
    min_instances: int | None = Field(default=None, ge=1)

    def matches(
        self,
        modality: str | None,
        body_part: str | None,
        sop_classes: Sequence[str],
        age_years: float | None = None,
        *,
        description: str | None = None,
        instances: int | None = None,
    ) -> bool:
        """Whether a series with these attributes (and arriving SOP classes) is for this rule."""
        if self.min_age_years is not None and (age_years is None or age_years < self.min_age_years):
            return False
        if self.min_instances is not None and (instances is None or instances < self.min_instances):
            return False
        if not self._description_matches(description):
            return False
        if self.modalities and (modality or "").upper() not in {m.upper() for m in self.modalities}:
            return False
        if self.body_parts and (body_part or "").strip().upper() not in {b.upper() for b in self.body_parts}:
            return False
        return not self.sop_classes or any(uid in self.sop_classes for uid in sop_classes)

    def _description_matches(self, description: str | None) -> bool:
        text = (description or "").upper()
        if self.descriptions and not any(term.upper() in text for term in self.descriptions):
            return False
        words = set(re.split(r"[^A-Z0-9]+", text))
        return not any(term.upper() in words for term in self.exclude_descriptions)


class _RuleFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[RoutingRule] = Field(default_factory=list)


#: The chest radiograph tasks the built-in rules run, in submission order (module docstring).
CHEST_XRAY_TASKS = ("cxr-tuberculosis", "cxr-pneumonia")
_DX_LIKE = (_CR_IMAGE, _DX_PRESENTATION, _DX_PROCESSING)

#: Youngest age (years) the tuberculosis model is routed for: adults and adolescents.
TB_MIN_AGE_YEARS = 15.0
_MIN_AGE = {"cxr-tuberculosis": TB_MIN_AGE_YEARS}

#: Brain MR series that look like the brain tumour model's input: an axial FLAIR series
#: of the head. The body parts are those the task accepts (BRAIN_MRI) and "not recorded";
#: the description must name FLAIR (GE, Philips: "FLAIR"; Siemens: "tirm ... dark-fluid")
#: and no other plane (a sagittal 3-D FLAIR is common and the model learned axial
#: slices); 8 instances is the recipe's thinnest volume (``min_slices``), below which
#: the task refuses the series anyway.
MRI_BRAIN_TUMOUR_RULE = RoutingRule(
    task="mri-brain-tumour",
    modalities=("MR",),
    body_parts=("BRAIN", "HEAD", "HEADNECK", "SKULL", "CEREBRUM", ""),
    descriptions=("FLAIR", "DARK-FLUID", "DARK_FLUID", "DARKFLUID", "DARK FLUID"),
    exclude_descriptions=("SAG", "SAGITTAL", "COR", "CORONAL"),
    min_instances=8,
)

#: Tasks deliberately left without a built-in rule, and why (a rule file may still add one).
NO_RULE = {
    "mri-hippocampus": (
        "its model reads an MSD-style crop of about 35 x 50 x 35 mm around one hippocampus, which no scanner "
        "sends: a whole-head T1 series would be refused by its distribution check at best, mis-segmented at "
        "worst; crops made by a pipeline can be routed by a rule file that names their series description"
    ),
}

#: The built-in rules (see the module docstring).
DEFAULT_RULES: tuple[RoutingRule, ...] = (
    MRI_BRAIN_TUMOUR_RULE,
    *(
        rule
        for task in CHEST_XRAY_TASKS
        for rule in (
            RoutingRule(task=task, modalities=("CR", "DX"), body_parts=_CHEST, min_age_years=_MIN_AGE.get(task)),
            RoutingRule(task=task, sop_classes=_DX_LIKE, body_parts=_CHEST, min_age_years=_MIN_AGE.get(task)),
        )
    ),
)


def load_rules(path: Path | None) -> tuple[RoutingRule, ...]:
    """The rules in ``path``, or :data:`DEFAULT_RULES` when None.

    Raises:
        UsageError: the file cannot be read, is not JSON of the documented shape, or
            names an unknown task (found at start-up, not at the first arrival).
    """
    if path is None:
        return DEFAULT_RULES
    try:
        parsed = _RuleFile.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))
    except OSError as exc:
        raise UsageError(f"routing rules: cannot read {path}") from exc
    except (ValueError, ValidationError) as exc:  # JSONDecodeError is a ValueError
        raise UsageError(f"routing rules: {path} is not a valid rule file (see medsight.services.routing)") from exc
    for rule in parsed.rules:
        get_task(rule.task)
    return tuple(parsed.rules)


class Router:
    """An ingest listener that queues analyses for arriving series that match a rule.

    Rules of tasks that read a whole series (volume segmentation) wait until the series
    is stable, ``stable_s`` seconds without a new instance (module docstring); the others
    run at each arrival. :meth:`route_stable` runs the waiting ones whose time has come:
    the server calls it every second.

    Args:
        service: the job service (queueing, the store, the clock).
        rules: the rules, in order.
        stable_s: the quiet time that makes a series stable; 0 runs every rule at arrival.
    """

    def __init__(self, service: JobService, rules: Sequence[RoutingRule], *, stable_s: float = 0.0) -> None:
        self.service = service
        self.rules = tuple(rules)
        self.stable_s = stable_s
        self.pending = PendingRoutes(service.store.sessions)
        waits = [stable_s > 0 and get_task(rule.task).kind is TaskKind.VOLUME_SEGMENTATION for rule in self.rules]
        self._when_stable = tuple(rule for rule, wait in zip(self.rules, waits, strict=True) if wait)
        self._waiting_tasks = frozenset(rule.task for rule in self._when_stable)
        # At an arrival: the rules that run now, and the waiting ones with every criterion
        # but the instance count (the series may still grow to it): those that match wait.
        self._on_arrival = tuple(
            rule.model_copy(update={"min_instances": None}) if wait else rule
            for rule, wait in zip(self.rules, waits, strict=True)
        )

    def __call__(self, results: Sequence[IngestResult], principal: Principal, *, complete: bool = False) -> None:
        """Route what was just stored (the listener signature of the service context).

        ``complete``: the sender says these series are whole (the demo's studies), so no
        rule waits for them to be stable.
        """
        arrived: dict[tuple[str, str], set[str]] = defaultdict(set)
        for result in results:
            arrived[(result.study_instance_uid, result.series_instance_uid)].add(result.sop_class_uid or "")
        queued = waiting = 0
        for (study, series), classes in arrived.items():
            sop_classes = sorted(classes)
            matched = self.tasks_for(series, sop_classes, self.rules if complete else self._on_arrival)
            now = [task for task in matched if complete or task not in self._waiting_tasks]
            queued += self._queue(study, series, now, principal.actor)
            if len(now) < len(matched):
                due = self.service.clock() + timedelta(seconds=self.stable_s)
                self.pending.defer(study, series, principal.actor, sop_classes, due)
                waiting += 1
        if queued or waiting:
            _log.info(
                "routing queued %d analysis job(s) for %d series; %d series wait to be stable",
                queued,
                len(arrived),
                waiting,
            )

    def route_stable(self, now: datetime | None = None) -> int:
        """Run the waiting rules on every series stable at ``now`` (default: the clock); jobs queued.

        Raises:
            MedsightError: the database could not be read or written (the rows stay, and
                are tried again at the next call).
        """
        queued = 0
        for route in self.pending.due(now or self.service.clock()):
            tasks = self.tasks_for(route.series_instance_uid, route.sop_classes, self._when_stable)
            queued += self._queue(route.study_instance_uid, route.series_instance_uid, tasks, route.actor)
            # Only then is the wait removed, so that a reader always sees the series waiting
            # or its job; an instance that arrived meanwhile moved ``due_at``, and the row
            # stays for a job over the whole series. Two servers routing one series at once
            # queue the same job (jobs are keyed by their inputs).
            self.pending.take(route)
        if queued:
            _log.info("routing queued %d analysis job(s) for stable series", queued)
        return queued

    def waiting(self, study_instance_uid: str, principal: Principal) -> list[dict[str, Any]]:
        """The series of a study that wait to be stable, as JSON: ``series_uid``, ``due_at``, ``seconds_left``.

        Raises:
            PermissionDeniedError: a referrer asking about a study it did not send.
        """
        self.service.access.require_study(principal, study_instance_uid)
        now = self.service.clock()
        return [
            {
                "study_uid": route.study_instance_uid,
                "series_uid": route.series_instance_uid,
                "due_at": route.due_at.isoformat(),
                "seconds_left": round(max(0.0, (route.due_at - now).total_seconds()), 1),
                "stable_s": self.stable_s,
            }
            for route in self.pending.waiting(study_instance_uid)
        ]

    def _queue(self, study: str, series: str, tasks: Sequence[str], actor: str) -> int:
        queued = 0
        for task in tasks:
            try:
                _job, created = self.service.submit_as(AnalysisRequest(study, series, task), actor)
            except MedsightError as exc:  # one series' problem never stops the others
                _log.warning("routing to %s skipped: %s", task, exc.code)
                continue
            queued += created
        return queued

    def tasks_for(
        self, series_instance_uid: str, sop_classes: Sequence[str], rules: Sequence[RoutingRule] | None = None
    ) -> list[str]:
        """The tasks whose rules (default: all) match a stored series, each once, in rule order."""
        rules = self.rules if rules is None else rules
        if not rules:
            return []
        found = self.service.store.series(SeriesQuery(series_instance_uids=(series_instance_uid,)))
        if not found:
            return []
        series = found[0]
        age = self._age_years(series.study_instance_uid) if any(r.min_age_years is not None for r in rules) else None
        tasks: list[str] = []
        for rule in rules:
            if rule.task not in tasks and rule.matches(
                series.modality,
                series.body_part_examined,
                sop_classes,
                age,
                description=series.series_description,
                instances=series.number_of_instances,
            ):
                tasks.append(rule.task)
        return tasks

    def _age_years(self, study_instance_uid: str) -> float | None:
        studies = self.service.store.studies(StudyQuery(study_instance_uids=(study_instance_uid,)))
        return age_at_study(studies[0].patient_birth_date, studies[0].study_date) if studies else None


def age_at_study(birth_date: str | None, study_date: str | None) -> float | None:
    """Years from Patient's Birth Date to Study Date (DICOM DA, YYYYMMDD); None when either is unknown."""
    try:
        born = datetime.strptime((birth_date or "").strip(), "%Y%m%d")
        seen = datetime.strptime((study_date or "").strip(), "%Y%m%d")
    except ValueError:
        return None
    if seen < born:
        return None
    return (seen - born).days / 365.25
