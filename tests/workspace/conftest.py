"""The workspace tests judge a known case on a pinned clinic day, so the wall clock never changes a verdict."""

import pytest

from cases.models import Clinic

from .known_case import TODAY, known_case


@pytest.fixture(autouse=True)
def pinned_today(monkeypatch):
    monkeypatch.setattr(Clinic, "today", lambda clinic: TODAY)
    return TODAY


@pytest.fixture
def case(clinic, podiatrist):
    return known_case(clinic, podiatrist)
