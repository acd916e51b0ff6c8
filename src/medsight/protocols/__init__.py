"""Personalised imaging protocols: a patient profile in, ranked and explained recommendations out.

In the manner of the ACR Appropriateness Criteria and ACR Select, over an open knowledge
base of our own (``rules/*.yaml``: declarative, versioned, every rule citing its public
source). Pure domain logic: imports nothing of medsight but :mod:`medsight.errors`, so
the CLI, the service and a notebook get the same answers.

* :func:`parse_profile` validates a profile (a :class:`~medsight.errors.ProfileError`
  names each failing field);
* :func:`recommend` ranks the examinations for it (:class:`RecommendationResult`);
* :func:`load_knowledge_base` loads and checks the rules once per process;
* :mod:`medsight.protocols.risk`: PLCOm2012 and the Gail model (NCI BCRAT).
"""

from __future__ import annotations

from medsight.protocols.engine import recommend
from medsight.protocols.knowledge import Indication, KnowledgeBase, load_knowledge_base
from medsight.protocols.profile import PatientProfile, parse_profile
from medsight.protocols.result import Recommendation, RecommendationResult

__all__ = [
    "Indication",
    "KnowledgeBase",
    "PatientProfile",
    "Recommendation",
    "RecommendationResult",
    "load_knowledge_base",
    "parse_profile",
    "recommend",
]
