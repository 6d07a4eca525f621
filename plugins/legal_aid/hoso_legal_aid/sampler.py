"""The sample of an annual evaluation plan: which ended cases the authorities evaluate.

A pure function of its inputs, so a stored seed reproduces a sample: the rules of the plan are

* per province, at least ``share`` of its eligible ended cases (rounded up);
* every performer with an eligible ended case in the province has at least one case in the sample;
* a case already sampled by an earlier plan is never eligible again (no case is evaluated twice);
* the same candidates, exclusions, share and seed give the same sample, whatever the order they come in.

A performer whose every ended case was evaluated by earlier plans cannot be covered without evaluating a case
twice; the second rule wins and such a performer is left out (``Sample.uncovered`` names them).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction

__all__ = ["Candidate", "Sample", "draw_sample", "quota"]


@dataclass(frozen=True, order=True)
class Candidate:
    """An ended case the plan may sample: its id, the province it answers to and its performer (None when the
    file names none)."""

    case: int
    province: int
    performer: int | None


@dataclass(frozen=True)
class Sample:
    """The drawn case ids (ascending), per province, and the performers with ended cases who could not be
    covered because every one of their cases was evaluated before."""

    cases: tuple[int, ...]
    by_province: dict[int, tuple[int, ...]] = field(default_factory=dict)
    uncovered: frozenset[int] = frozenset()


def quota(eligible: int, share: Fraction) -> int:
    """The least number of cases a province's sample holds: ``share`` of its eligible cases, rounded up."""
    return min(eligible, math.ceil(share * eligible))


def draw_sample(candidates: Iterable[Candidate], share: Fraction, seed: int,
                already: Iterable[int] = ()) -> Sample:
    """Draw a plan's sample from ``candidates`` (ended cases), leaving out the case ids in ``already``."""
    if not 0 < share <= 1:
        raise ValueError("share must be more than 0 and at most 1")
    excluded = set(already)
    every = sorted(set(candidates))
    eligible = [c for c in every if c.case not in excluded]
    provinces = sorted({c.province for c in eligible})
    by_province: dict[int, tuple[int, ...]] = {}
    for province in provinces:
        pool = [c for c in eligible if c.province == province]
        # One generator per province, seeded from the plan's seed and the province: a province's sample does not
        # change when another province gains a case.
        rng = random.Random(f"{seed}:{province}")
        rng.shuffle(pool)
        chosen: list[Candidate] = []
        covered: set[int] = set()
        for c in pool:  # first the first case of each performer, in the shuffled order
            if c.performer is not None and c.performer not in covered:
                covered.add(c.performer)
                chosen.append(c)
        taken = {c.case for c in chosen}
        rest = [c for c in pool if c.case not in taken]
        chosen.extend(rest[:max(0, quota(len(pool), share) - len(chosen))])
        by_province[province] = tuple(sorted(c.case for c in chosen))
    performers_with_ended = {c.performer for c in every if c.performer is not None}
    covered_all = {c.performer for c in eligible if c.performer is not None}
    cases = tuple(sorted(i for ids in by_province.values() for i in ids))
    return Sample(cases, by_province, frozenset(performers_with_ended - covered_all))
