"""Hand-written SQL for the outcome report's figures, the yardstick ``cases.reports`` is timed against.

``stored_facts_sql`` reads the same stored per-treatment facts as the report, as a person would write
it; ``lookup_sql`` is the best plain SQL without them (a LATERAL lookup per treatment over the visits
and treatments), which is what the report cost before the facts were stored.
"""

from __future__ import annotations

_FIGURES = """
    t.kind,
    count(*) AS started,
    count(*) FILTER (WHERE t.response = 'complete') AS complete,
    count(*) FILTER (WHERE t.response = 'partial') AS partial,
    count(*) FILTER (WHERE t.response = 'none') AS "none",
    count(*) FILTER (WHERE t.response = 'pending') AS pending,
    count(f.escalated_on) AS escalated,
    count(*) FILTER (WHERE t.id IN (SELECT treatment_id FROM cases_complication)) AS with_complication,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY f.pain_walking_at_assessment - f.pain_walking_at_start),
    percentile_cont(0.5) WITHIN GROUP (ORDER BY f.escalated_on - t.started_on)
"""


def _where(date_from, date_to) -> str:
    bounds = ["TRUE"]
    if date_from is not None:
        bounds.append("t.started_on >= %(date_from)s")
    if date_to is not None:
        bounds.append("t.started_on <= %(date_to)s")
    return " AND ".join(bounds)


def stored_facts_sql(date_from=None, date_to=None) -> str:
    return f"""
SELECT {_FIGURES}
FROM cases_treatment t JOIN cases_treatmentoutcome f ON f.treatment_id = t.id
WHERE {_where(date_from, date_to)}
GROUP BY t.kind
"""  # noqa: S608 (fixed text; the dates are parameters)


_STEP = """CASE {alias}.kind WHEN 'footwear_modification' THEN 10 WHEN 'orthosis' THEN 20
    WHEN 'corticosteroid_injection' THEN 30 WHEN 'neurectomy' THEN 40 ELSE 35 END"""


def lookup_sql(date_from=None, date_to=None) -> str:
    return f"""
SELECT {_FIGURES}
FROM cases_treatment t
CROSS JOIN LATERAL (
    SELECT
        (SELECT v.pain_walking FROM cases_visit v WHERE v.presentation_id = t.presentation_id
            AND v.seen_on > t.started_on AND v.seen_on <= t.response_assessed_on
            ORDER BY v.seen_on DESC, v.id DESC LIMIT 1) AS pain_walking_at_assessment,
        (SELECT v.pain_walking FROM cases_visit v WHERE v.presentation_id = t.presentation_id
            AND v.seen_on <= t.started_on ORDER BY v.seen_on DESC, v.id DESC LIMIT 1) AS pain_walking_at_start,
        (SELECT min(h.started_on) FROM cases_treatment h WHERE h.presentation_id = t.presentation_id
            AND h.started_on >= t.started_on AND {_STEP.format(alias="h")} > {_STEP.format(alias="t")})
            AS escalated_on
) f
WHERE {_where(date_from, date_to)}
GROUP BY t.kind
"""  # noqa: S608 (fixed text; the dates are parameters)
