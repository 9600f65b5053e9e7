"""MOxFQ scoring as DOMAIN.md §6 says: 7/5/4 items, raw sum over maximum x 100, a domain missing an item unscored."""

from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured

from cases.followups.scoring import domain_score, domain_scores, parse_form
from tests.followups.conftest import PLACEHOLDER_DOMAINS


def test_the_best_and_worst_answers_score_0_and_100():
    assert domain_score([0] * 7) == Decimal("0.0")
    assert domain_score([4] * 5) == Decimal("100.0")


def test_a_score_is_the_raw_sum_over_the_maximum_to_one_decimal():
    assert domain_score([1, 0, 0, 0, 0, 0, 0]) == Decimal("3.6")  # 1/28
    assert domain_score([1, 0, 0, 0]) == Decimal("6.3")  # 6.25 rounds half up
    assert domain_score([2, 2, 2, 2, 2]) == Decimal("50.0")


def test_a_domain_with_one_missing_item_is_unscored_and_the_others_still_are():
    answers = [2] * 7 + [1, 1, None, 1, 1] + [0] * 4
    assert domain_scores(PLACEHOLDER_DOMAINS, answers) == {
        "moxfq_walking_standing": Decimal("50.0"),
        "moxfq_pain": None,
        "moxfq_social": Decimal("0.0"),
    }


def test_an_item_answer_outside_0_to_4_is_refused():
    with pytest.raises(ValueError, match="0–4"):
        domain_score([5, 0, 0, 0])


def test_answers_must_match_the_form():
    with pytest.raises(ValueError, match="15 answers"):
        domain_scores(PLACEHOLDER_DOMAINS, [0] * 15)


def _document(domains, labels=5):
    return {
        "response_labels": [f"Placeholder {n}" for n in range(labels)],
        "items": [{"domain": d, "text": f"Placeholder item {n}"} for n, d in enumerate(domains)],
    }


def test_a_clinic_form_with_the_7_5_4_split_is_accepted():
    form = parse_form(_document(PLACEHOLDER_DOMAINS))
    assert len(form.items) == 16 and len(form.response_labels) == 5


def test_the_8_4_4_split_of_a_public_scorer_is_refused():
    wrong = ["walking-standing"] * 8 + ["pain"] * 4 + ["social-interaction"] * 4
    with pytest.raises(ImproperlyConfigured, match="walking-standing domain has 7 items"):
        parse_form(_document(wrong))


def test_a_form_with_an_unknown_domain_or_wrong_labels_is_refused():
    with pytest.raises(ImproperlyConfigured, match="Unknown MOxFQ domains"):
        parse_form(_document([*PLACEHOLDER_DOMAINS[:-1], "mood"]))
    with pytest.raises(ImproperlyConfigured, match="5 response labels"):
        parse_form(_document(PLACEHOLDER_DOMAINS, labels=4))
