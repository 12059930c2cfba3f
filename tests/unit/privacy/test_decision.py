"""decide(): fail, suppress or climb the hierarchy, within the cap on suppressed subjects."""

from __future__ import annotations

import pytest

from schemas.errors import PublicationRefused
from tests.unit.privacy.policies import targets
from transforms.privacy.decision import decide
from transforms.privacy.measure import LevelMeasure


def level(number: int, failing_subjects: int, subjects: int = 100, classes: int = 10):
    failing = [f"class-{number}-{i}" for i in range(min(failing_subjects, classes))]
    return LevelMeasure(
        level=number,
        subjects=subjects,
        classes=classes,
        class_sizes={},
        failing_classes=failing,
        failing_subjects=failing_subjects,
        failing_rows=failing_subjects * 3,
        unique_subjects=0,
        k_after=5,
        average_risk_after=0.1,
    )


def test_fail_publishes_level_0_when_every_class_meets_k():
    measures = [level(0, 0), level(1, 0)]
    decision = decide(measures, targets(on_violation="fail", steps=()))
    assert decision.level == 0
    assert decision.suppressed_classes == frozenset()
    assert decision.suppressed_share == 0.0


def test_fail_refuses_any_class_under_target():
    with pytest.raises(PublicationRefused) as refused:
        decide([level(0, 1)], targets(on_violation="fail", steps=()))
    assert refused.value.exit_code == 4
    assert "k=2" in str(refused.value) and "nothing published" in str(refused.value)


def test_fail_names_l_in_its_message_when_targeted():
    with pytest.raises(PublicationRefused, match="k=2, l=3"):
        decide([level(0, 1)], targets(on_violation="fail", sensitive=("valeur",), l=3))


def test_suppress_drops_the_failing_classes_of_level_0_only():
    measures = [level(0, 4), level(1, 0)]
    decision = decide(measures, targets(on_violation="suppress", max_suppressed_share=0.05))
    assert decision.level == 0
    assert decision.suppressed_classes == frozenset(measures[0].failing_classes)
    assert decision.suppressed_share == pytest.approx(0.04)


def test_suppress_above_the_cap_refuses():
    with pytest.raises(PublicationRefused, match="above the policy's cap"):
        decide(
            [level(0, 6), level(1, 0)], targets(on_violation="suppress", max_suppressed_share=0.05)
        )


def test_generalise_takes_the_first_level_within_the_cap():
    measures = [level(0, 50), level(1, 20), level(2, 5), level(3, 0)]
    decision = decide(measures, targets(max_suppressed_share=0.05))
    assert decision.level == 2
    assert decision.measure is measures[2]
    assert decision.suppressed_classes == frozenset(measures[2].failing_classes)


def test_generalise_stays_at_level_0_when_it_already_meets_k():
    measures = [level(0, 0), level(1, 0)]
    assert decide(measures, targets()).level == 0


def test_the_cap_is_inclusive():
    measures = [level(0, 50), level(1, 10)]
    assert decide(measures, targets(max_suppressed_share=0.1)).level == 1


def test_a_zero_cap_needs_a_level_with_nothing_to_suppress():
    measures = [level(0, 50), level(1, 1), level(2, 0)]
    assert decide(measures, targets(max_suppressed_share=0.0)).level == 2


def test_generalise_refuses_when_no_level_is_within_the_cap():
    measures = [level(0, 50), level(1, 30), level(2, 12)]
    with pytest.raises(PublicationRefused) as refused:
        decide(measures, targets(max_suppressed_share=0.1))
    message = str(refused.value)
    assert refused.value.exit_code == 4
    assert "12.0%" in message and "level 2" in message and "10.0%" in message


def test_no_subjects_at_all_publishes_nothing_to_suppress():
    measures = [level(0, 0, subjects=0, classes=0)]
    decision = decide(measures, targets(on_violation="suppress"))
    assert decision.level == 0 and decision.suppressed_share == 0.0
