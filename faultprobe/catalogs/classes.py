"""Whether a selection has enough events per class for the method: the one rule that
`faultprobe init`'s dry run and `faultprobe catalog` both apply (docs/sequences.md).

A balanced binary run tests on the [train] test fraction of twice the smaller class; a
one-sided exact binomial test at p < 0.01 sets the accuracy a model must exceed there to be
told from chance.  Above `WARN_BOUND` it is a warning; where not even a perfect model could
be told from chance, an error for the caller to raise or report.  A small class beside a
large one (more than `LOPSIDED` times) is a warning too: the balanced run discards the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from scipy import stats

#: the chance bound (p < 0.01) of a balanced binary test above which the stages warn
WARN_BOUND = 0.60
ALPHA = 0.01
#: the larger class this many times the smaller one is a warning
LOPSIDED = 5


@dataclass(frozen=True)
class ClassSizes:
    """The pre and post counts of a selection and what a balanced binary run makes of them."""

    n_pre: int
    n_post: int
    n_test: int  # test events of the balanced binary run
    needed: int  # correct test predictions needed to be told from chance at p < ALPHA

    @property
    def n_min(self) -> int:
        return min(self.n_pre, self.n_post)

    @property
    def hopeless(self) -> bool:
        """Not even a perfect model could be told from chance."""
        return self.n_test == 0 or self.needed > self.n_test

    @property
    def bound(self) -> float:
        """The accuracy a model must exceed to be told from chance."""
        return self.needed / self.n_test if self.n_test else float("inf")

    @property
    def small(self) -> str:
        return "pre" if self.n_pre < self.n_post else "post"

    @property
    def lopsided(self) -> bool:
        return bool(self.n_min) and max(self.n_pre, self.n_post) > LOPSIDED * self.n_min

    def numbers(self) -> str:
        return (
            f"the selection keeps {self.n_pre} pre and {self.n_post} post events: a balanced "
            f"binary run has {self.n_min} per class and tests on {self.n_test}"
        )


def class_sizes(events: pd.DataFrame, test_fraction: float) -> ClassSizes:
    """Count a selection's pre and post events (its `phase` column) and the test they make."""
    n_pre = int((events["phase"] == "pre").sum())
    n_post = int((events["phase"] == "post").sum())
    n_test = int(2 * min(n_pre, n_post) * test_fraction)
    needed = int(stats.binom.isf(ALPHA, n_test, 0.5)) + 1 if n_test else 1
    return ClassSizes(n_pre, n_post, n_test, needed)


def class_findings(
    sizes: ClassSizes, where: str, change: str, lengthen: dict[str, str]
) -> tuple[list[str], str | None]:
    """Warnings for small classes, and the error text when no accuracy could be told from
    chance. `change` says what to change in the caller's terms (options or config keys);
    `lengthen[side]` how to lengthen the small class's side of the window."""
    numbers = sizes.numbers()
    if sizes.hopeless:
        return [], (
            f"{where}: {numbers}, too few for any accuracy to be told from chance (p < "
            f"{ALPHA:g}); this sequence has too few events for the method: give {change}"
        )
    warns = []
    if sizes.bound > WARN_BOUND:
        warns.append(
            f"{numbers}: a model must score above {100 * sizes.bound:.0f} % to be told from "
            f"chance (p < {ALPHA:g}; the paper had ~4,700 per class); give {change}"
        )
    if sizes.lopsided:
        small, big = sizes.small, max(sizes.n_pre, sizes.n_post)
        warns.append(
            f"{small} is the small class ({sizes.n_pre} pre, {sizes.n_post} post): the "
            f"balanced run discards {big - sizes.n_min} events; {lengthen[small]}"
        )
    return warns, None
