"""MOxFQ scoring as DOMAIN.md §6 states it, and the clinic's licensed item texts.

Sixteen items, each 0–4, in three domains of 7 (walking/standing), 5 (pain) and 4 (social interaction)
items (Dawson 2006). A domain's score is its raw sum over its maximum times 100, 0 best and 100 worst. The
official rule for missing items is in the licensed user guide and not public, so a domain with any
missing item is left unscored. No severity bands: the score is the number.

The item wording is licensed and never in this repository: a clinic that holds the licence points
``ClinicFollowUpSettings.moxfq_items_file`` (or ``settings.FOLLOW_UP["MOXFQ_ITEMS_FILES"][slug]``) at a
JSON file of its own::

    {"response_labels": ["<label for 0>", …, "<label for 4>"],
     "items": [{"domain": "walking-standing", "text": "<item 1>"}, …]}

with the items in the order the clinic's licensed form gives them, each naming its domain.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .choices import MOXFQ_ITEM_MAX, MOXFQ_ITEMS_PER_DOMAIN, MoxfqDomain

# Where each domain's score is stored on an answer.
SCORE_FIELD: dict[str, str] = {
    MoxfqDomain.WALKING_STANDING: "moxfq_walking_standing",
    MoxfqDomain.PAIN: "moxfq_pain",
    MoxfqDomain.SOCIAL_INTERACTION: "moxfq_social",
}


@dataclass(frozen=True)
class MoxfqItem:
    domain: str
    text: str


@dataclass(frozen=True)
class MoxfqForm:
    """A clinic's licensed item texts, checked against the 7/5/4 structure."""

    items: tuple[MoxfqItem, ...]
    response_labels: tuple[str, ...]

    @property
    def domains(self) -> tuple[str, ...]:
        return tuple(item.domain for item in self.items)


def domain_score(answers: Sequence[int | None]) -> Decimal | None:
    """One domain's 0–100 score to one decimal, or None if any item is unanswered."""
    if not answers or any(answer is None for answer in answers):
        return None
    for answer in answers:
        if not 0 <= answer <= MOXFQ_ITEM_MAX:
            raise ValueError(f"A MOxFQ item answer is 0–{MOXFQ_ITEM_MAX}, not {answer}.")
    raw = Decimal(sum(answers)) * 100 / (MOXFQ_ITEM_MAX * len(answers))
    return raw.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def domain_scores(domains: Sequence[str], answers: Sequence[int | None]) -> dict[str, Decimal | None]:
    """The three domain scores, by answer field name, from item answers in the form's order."""
    if len(domains) != len(answers):
        raise ValueError(f"{len(answers)} answers for a form of {len(domains)} items.")
    by_domain: dict[str, list[int | None]] = {domain: [] for domain in MOXFQ_ITEMS_PER_DOMAIN}
    for domain, answer in zip(domains, answers, strict=True):
        by_domain[domain].append(answer)
    for domain, expected in MOXFQ_ITEMS_PER_DOMAIN.items():
        if len(by_domain[domain]) != expected:
            raise ValueError(f"The {domain} domain has {expected} items, not {len(by_domain[domain])}.")
    return {SCORE_FIELD[domain]: domain_score(values) for domain, values in by_domain.items()}


def parse_form(document: dict) -> MoxfqForm:
    """Check a clinic's item file: 16 items split 7/5/4, five response labels; ImproperlyConfigured if not."""
    try:
        items = tuple(MoxfqItem(domain=str(entry["domain"]), text=str(entry["text"])) for entry in document["items"])
        labels = tuple(str(label) for label in document["response_labels"])
    except (KeyError, TypeError) as error:
        raise ImproperlyConfigured(
            f"The MOxFQ item file needs 'items' (domain, text) and 'response_labels': {error}"
        ) from error
    unknown = {item.domain for item in items} - set(MOXFQ_ITEMS_PER_DOMAIN)
    if unknown:
        raise ImproperlyConfigured(f"Unknown MOxFQ domains in the item file: {sorted(unknown)}.")
    for domain, expected in MOXFQ_ITEMS_PER_DOMAIN.items():
        found = sum(item.domain == domain for item in items)
        if found != expected:
            raise ImproperlyConfigured(f"The MOxFQ {domain} domain has {expected} items; the file gives {found}.")
    if len(labels) != MOXFQ_ITEM_MAX + 1:
        raise ImproperlyConfigured(f"The MOxFQ item file needs {MOXFQ_ITEM_MAX + 1} response labels (0–4).")
    return MoxfqForm(items=items, response_labels=labels)


def items_file_for(clinic, clinic_settings=None) -> str:
    """The path of the clinic's licensed item file, or '' when the clinic has none (MOxFQ is then not asked)."""
    own = getattr(clinic_settings, "moxfq_items_file", "") if clinic_settings is not None else ""
    return own or settings.FOLLOW_UP.get("MOXFQ_ITEMS_FILES", {}).get(clinic.slug, "")


def load_form(path: str) -> MoxfqForm | None:
    """The clinic's MOxFQ form from its file, or None when no file is configured."""
    if not path:
        return None
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ImproperlyConfigured(f"The MOxFQ item file cannot be read: {error}") from error
    return parse_form(document)
