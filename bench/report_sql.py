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


MCID_MEASURES = ("pain_walking", "pain_rest", "moxfq_walking_standing", "moxfq_pain", "moxfq_social")


def _measure_figures(measure: str, mcid: dict, acceptable: dict) -> str:
    """n, MCID reached and (if the measure has one) the acceptable state, for one measure, as SQL aggregates."""
    value, before = f"fu.{measure}", f"coalesce(ba.{measure}, b.{measure})"
    both = f"{value} IS NOT NULL AND {before} IS NOT NULL"
    reached = f"{before} - {value} >= {mcid['points']}"
    if mcid.get("percent") is not None:
        reached = f"({reached} OR ({before} > 0 AND ({before} - {value}) * 100 >= {mcid['percent']} * {before}))"
    columns = [
        f"count(*) FILTER (WHERE {both}) AS {measure}_n",
        f"count(*) FILTER (WHERE NOT ({both})) AS {measure}_missing",
        f"count(*) FILTER (WHERE {both} AND {reached}) AS {measure}_mcid",
    ]
    if measure in acceptable:
        columns.append(
            f"count(*) FILTER (WHERE {both} AND {value} <= {acceptable[measure]['at_most']}) AS {measure}_acceptable"
        )
    return ",\n    ".join(columns)


def mcid_sql(mcid: dict, acceptable: dict, date_from=None, date_to=None) -> str:
    """The extended report's MCID part as one query: per kind and time point (6 and 12 months), each measure's
    n, missing, MCID reached and acceptable state, with the report's definitions (the latest treatment of a
    kind per presentation; the baseline answer, else the first visit, as the baseline; only follow-ups
    answered or whose window has closed). ``mcid``/``acceptable`` are the deployment's thresholds
    (``settings.FOLLOW_UP_MCID``, ``FOLLOW_UP_ACCEPTABLE_STATE``); ``%(today)s`` is a parameter."""
    answers = ", ".join(f"a.{measure}" for measure in MCID_MEASURES)
    figures = ",\n    ".join(_measure_figures(measure, mcid[measure], acceptable) for measure in MCID_MEASURES)
    return f"""
WITH fu AS (
    SELECT DISTINCT ON (t.kind, f.time_point, f.presentation_id)
        t.kind, f.time_point, f.presentation_id, {answers}
    FROM cases_followup f
    JOIN cases_treatment t ON t.id = f.treatment_id
    LEFT JOIN cases_followupanswer a ON a.follow_up_id = f.id
    WHERE f.time_point IN ('month_6', 'month_12') AND f.status <> 'cancelled'
        AND (f.status = 'completed' OR f.window_closes_on < %(today)s) AND {_where(date_from, date_to)}
    ORDER BY t.kind, f.time_point, f.presentation_id, t.started_on DESC, f.id DESC
),
b AS (
    SELECT DISTINCT ON (v.presentation_id) v.presentation_id, {answers.replace("a.", "v.")}
    FROM cases_visit v
    WHERE v.presentation_id IN (SELECT presentation_id FROM fu)
    ORDER BY v.presentation_id, v.seen_on, v.id
),
ba AS (
    SELECT f.presentation_id, {answers}
    FROM cases_followup f JOIN cases_followupanswer a ON a.follow_up_id = f.id
    WHERE f.time_point = 'baseline' AND f.presentation_id IN (SELECT presentation_id FROM fu)
)
SELECT fu.kind, fu.time_point,
    {figures}
FROM fu LEFT JOIN b ON b.presentation_id = fu.presentation_id LEFT JOIN ba ON ba.presentation_id = fu.presentation_id
GROUP BY fu.kind, fu.time_point
"""  # noqa: S608 (fixed text and the deployment's numeric thresholds; the dates are parameters)
