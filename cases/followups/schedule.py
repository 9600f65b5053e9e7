"""Which follow-ups a presentation should have, from plain facts: no database, no request.

The anchors are the treatments' start dates, never appointments (DOMAIN.md §6a):

- baseline at the first visit (or the date first seen, before any visit is recorded);
- each conservative rung (footwear, orthosis, corticosteroid injection) at the end of its trial
  (``LadderSettings.trial_ends_on``), or on the day it ended if it ended sooner;
- each alternative and each neurectomy at 6 weeks, 6 months and 12 months after its start.

Each time point has a window around its due date; after the window closes an unanswered follow-up
counts as missed. ``cases.services.follow_up_plan`` compares this wanted set with the stored one.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from dateutil.relativedelta import relativedelta
from django.conf import settings

from .. import ladder
from .choices import TimePoint

# After an alternative or a neurectomy: (time point, weeks, months) from the treatment's start.
AFTER_PROCEDURE: tuple[tuple[str, int, int], ...] = (
    (TimePoint.WEEK_6, 6, 0),
    (TimePoint.MONTH_6, 0, 6),
    (TimePoint.MONTH_12, 0, 12),
)


class TreatmentFacts(Protocol):
    pk: Any
    kind: str
    started_on: datetime.date
    ended_on: datetime.date | None


@dataclass(frozen=True)
class ScheduleSettings:
    window_opens_days_before: int
    window_closes_days_after: int
    baseline: bool = True

    @classmethod
    def from_settings(cls, overrides: Mapping[str, Any] | None = None) -> ScheduleSettings:
        """``settings.FOLLOW_UP``, with a clinic's own values (``ClinicFollowUpSettings``) where it set one."""
        conf = {**settings.FOLLOW_UP, **{k: v for k, v in (overrides or {}).items() if v is not None}}
        return cls(
            window_opens_days_before=conf["WINDOW_OPENS_DAYS_BEFORE"],
            window_closes_days_after=conf["WINDOW_CLOSES_DAYS_AFTER"],
            baseline=conf.get("BASELINE", True),
        )


@dataclass(frozen=True)
class PlannedFollowUp:
    time_point: str
    treatment_id: Any  # None for the baseline
    due_on: datetime.date
    window_opens_on: datetime.date
    window_closes_on: datetime.date

    @property
    def key(self) -> tuple[str, Any]:
        return (self.time_point, self.treatment_id)


def _planned(time_point: str, treatment_id, due_on: datetime.date, conf: ScheduleSettings) -> PlannedFollowUp:
    return PlannedFollowUp(
        time_point=time_point,
        treatment_id=treatment_id,
        due_on=due_on,
        window_opens_on=due_on - datetime.timedelta(days=conf.window_opens_days_before),
        window_closes_on=due_on + datetime.timedelta(days=conf.window_closes_days_after),
    )


def plan(
    *,
    first_visit_on: datetime.date,
    treatments: Iterable[TreatmentFacts],
    conf: ScheduleSettings,
    ladder_conf: ladder.LadderSettings | None = None,
) -> list[PlannedFollowUp]:
    """Every follow-up the presentation should have, in due-date order."""
    ladder_conf = ladder_conf or ladder.LadderSettings.from_settings()
    wanted: list[PlannedFollowUp] = []
    if conf.baseline:
        wanted.append(_planned(TimePoint.BASELINE, None, first_visit_on, conf))
    for treatment in treatments:
        step = ladder.step_of(treatment.kind)
        if step < ladder.ALTERNATIVE:
            due_on = ladder_conf.trial_ends_on(treatment)
            if treatment.ended_on and treatment.ended_on < due_on:
                due_on = treatment.ended_on  # stopped early: ask about the trial as it ended
            wanted.append(_planned(TimePoint.END_OF_TRIAL, treatment.pk, due_on, conf))
        else:
            for time_point, weeks, months in AFTER_PROCEDURE:
                due_on = treatment.started_on + relativedelta(months=months) + datetime.timedelta(weeks=weeks)
                wanted.append(_planned(time_point, treatment.pk, due_on, conf))
    return sorted(wanted, key=lambda p: (p.due_on, p.time_point))
