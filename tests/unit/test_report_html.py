import re

from pipeline.report_html import bucket_counts, class_size_chart, render_html


def _report(**changes):
    report = {
        "run_id": "20261128T000000Z-abcd",
        "pseudolab_version": "0.1.0",
        "started_at": "2026-11-28T00:00:00+00:00",
        "runner": "DirectRunner",
        "policy": {"name": "lab-export-v1", "version": "1.0.0", "sha256": "ab" * 32},
        "key_id": "k1",
        "inputs": [{"path": "/in/<export>.csv", "format": "csv", "rows": 10}],
        "rows_in": 10,
        "rows_out": 8,
        "rows_rejected": 2,
        "rejected_ratio": 0.2,
        "rejected_by_reason": {"invalid-date": 1, "k-anonymity": 1},
        "flags": {"invalid-nir": {"nir": 3}},
        "columns": {"nir": "tokenise", "nom": "drop"},
        "column_details": [
            {"input": "nir", "action": "tokenise", "output": "nir_token", "detail": "token"},
            {"input": "nom", "action": "drop", "output": None, "detail": "not published"},
        ],
        "privacy": {
            "subject": "patient_token",
            "quasi_identifiers": ["sexe", "classe_age"],
            "sensitive": [],
            "k_target": 5,
            "l_target": None,
            "strategy": "generalise",
            "max_suppressed_share": 0.1,
            "level": 1,
            "steps_applied": [{"column": "classe_age", "to": "10"}],
            "k_achieved": 6,
            "k_before": 1,
            "l_achieved": {},
            "subjects": 40,
            "classes": {"before": 12, "after": 4},
            "class_sizes": {"before": {"1": 5, "3": 4, "12": 3}, "after": {"6": 2, "14": 2}},
            "subjects_suppressed": 1,
            "subjects_suppressed_share": 0.025,
            "rows_suppressed": 1,
            "unique_subjects_share": {"before": 0.125, "after": 0.0},
            "prosecutor_risk": {"max": 0.1667, "average": 0.1},
        },
    }
    report.update(changes)
    return report


def test_bucket_counts_group_class_sizes():
    assert bucket_counts({"1": 5, 3: 4, 7: 1, 12: 3, 150: 2}) == [5, 0, 4, 0, 1, 3, 0, 0, 2]


def test_page_is_self_contained_and_escaped():
    page = render_html(_report())
    assert "<script" not in page.lower()
    external = re.findall(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert external == []
    assert "@import" not in page and "url(" not in page
    assert "&lt;export&gt;" in page and "<export>" not in page


def test_page_shows_counts_columns_reasons_and_chart():
    page = render_html(_report())
    for text in ("rows in", "nir_token", "invalid-date", "k-anonymity", "k = 6 achieved"):
        assert text in page
    assert page.count("<svg") == 1 and "<rect" in page


def test_chart_draws_one_bar_per_bucket_and_phase():
    chart = class_size_chart({"1": 5, "12": 3}, {"12": 3}, 5)
    assert chart.count("<rect") == 9 * 2 + 2  # bars, plus two legend swatches
    assert "5 classes of size 1" in chart


def test_page_without_privacy_section():
    page = render_html(_report(privacy=None))
    assert "Re-identification risk" not in page and "<svg" not in page
