"""Choose how to meet the privacy targets, or refuse publication."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.errors import PublicationRefused
from schemas.model import PrivacyTargets
from transforms.privacy.measure import LevelMeasure


@dataclass(frozen=True)
class Decision:
    level: int  # generalisation level applied (0: as published)
    measure: LevelMeasure  # the classes at that level
    suppressed_classes: frozenset[str]

    @property
    def suppressed_share(self) -> float:
        subjects = self.measure.subjects
        return self.measure.failing_subjects / subjects if subjects else 0.0


def _share(measure: LevelMeasure) -> float:
    return measure.failing_subjects / measure.subjects if measure.subjects else 0.0


def _target_text(targets: PrivacyTargets) -> str:
    return f"k={targets.k}" + (f", l={targets.l}" if targets.l else "")


def decide(measures: list[LevelMeasure], targets: PrivacyTargets) -> Decision:
    """The first level whose failing classes can be suppressed within the cap."""
    first = measures[0]
    if targets.on_violation == "fail":
        if first.failing_classes:
            raise PublicationRefused(
                f"privacy gate: {len(first.failing_classes)} of {first.classes} classes"
                f" ({first.failing_subjects} subjects) miss {_target_text(targets)} and the"
                " policy says fail; nothing published"
            )
        return Decision(0, first, frozenset())
    candidates = measures if targets.on_violation == "generalise" else measures[:1]
    for measure in candidates:
        if _share(measure) <= targets.max_suppressed_share:
            return Decision(measure.level, measure, frozenset(measure.failing_classes))
    best = min(candidates, key=_share)
    raise PublicationRefused(
        f"privacy gate: meeting {_target_text(targets)} would suppress {_share(best):.1%} of"
        f" subjects at best (level {best.level}), above the policy's cap of"
        f" {targets.max_suppressed_share:.1%}; nothing published"
    )
