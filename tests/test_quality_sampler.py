"""The evaluation plan's sampler against a plain-Python statement of its rules: at least the configured share of
each province's eligible ended cases (rounded up), every performer with an eligible case covered, no case sampled
by an earlier plan, the same sample from the same seed whatever the input order."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hoso_legal_aid.sampler import Candidate, draw_sample

PROVINCES = st.integers(1, 4)
PERFORMERS = st.one_of(st.none(), st.integers(1, 8))


@st.composite
def plans(draw):
    """Ended cases (ids 1..n) with their province and performer, a share in percent, seeds of successive plans."""
    rows = draw(st.lists(st.tuples(PROVINCES, PERFORMERS), max_size=60))
    cases = [Candidate(i + 1, p, perf) for i, (p, perf) in enumerate(rows)]
    percent = draw(st.integers(1, 100))
    seeds = draw(st.lists(st.integers(0, 2**31 - 1), min_size=1, max_size=3))
    return cases, percent, seeds


def expected_size(eligible: list[Candidate], province: int, percent: int) -> int:
    """Oracle: the share rounded up, raised to the number of performers to cover."""
    here = [c for c in eligible if c.province == province]
    share = -(-len(here) * percent // 100)
    return max(share, len({c.performer for c in here if c.performer is not None}))


@settings(max_examples=60, deadline=None)
@given(plans(), st.randoms(use_true_random=False))
def test_successive_plans_follow_the_sampling_rules(plan, rnd):
    cases, percent, seeds = plan
    share = Fraction(percent, 100)
    sampled: list[int] = []
    for seed in seeds:  # the plans of successive years draw from the same ended cases
        already = set(sampled)
        sample = draw_sample(cases, share, seed, already)
        eligible = [c for c in cases if c.case not in already]
        drawn = [c for c in cases if c.case in set(sample.cases)]

        assert sorted(sample.cases) == list(sample.cases) and len(set(sample.cases)) == len(sample.cases)
        assert not already & set(sample.cases), "a case sampled by an earlier plan was drawn again"
        for province in {c.province for c in eligible}:
            got = [c for c in drawn if c.province == province]
            assert len(got) == expected_size(eligible, province, percent)
            assert sorted(c.case for c in got) == list(sample.by_province[province])
            need = {c.performer for c in eligible if c.province == province and c.performer is not None}
            assert need <= {c.performer for c in got}, "a performer with ended cases is not covered"
        assert set(sample.by_province) == {c.province for c in eligible}
        # Performers left uncovered are exactly those whose every case was sampled before.
        assert sample.uncovered == ({c.performer for c in cases if c.performer is not None}
                                    - {c.performer for c in eligible if c.performer is not None})
        # Reproducible from the stored seed, whatever order the candidates and exclusions come in.
        shuffled = list(cases)
        rnd.shuffle(shuffled)
        assert draw_sample(shuffled, share, seed, sorted(already, reverse=True)) == sample
        sampled += sample.cases
    assert len(sampled) == len(set(sampled)), "a case was evaluated twice across plans"


def test_the_seed_decides_which_cases_are_drawn():
    cases = [Candidate(i, 1 + i % 2, None) for i in range(1, 201)]
    samples = {draw_sample(cases, Fraction(1, 10), seed).cases for seed in range(5)}
    assert len(samples) == 5  # different seeds, different samples (of the same size)
    assert {len(s) for s in samples} == {20}
    rng = random.Random(7)
    assert draw_sample(rng.sample(cases, len(cases)), Fraction(1, 10), 3) == draw_sample(cases, Fraction(1, 10), 3)


@pytest.mark.parametrize("share", [Fraction(0), Fraction(101, 100), Fraction(-1, 10)])
def test_a_share_outside_0_to_100_percent_is_refused(share):
    with pytest.raises(ValueError, match="share"):
        draw_sample([Candidate(1, 1, 1)], share, 1)
