"""The evaluator: facts + plan version + rep + period -> a statement (pure and deterministic).

A statement is a list of lines, each naming its component, the deals and events behind it,
the base, tier and rate, and an amount rounded once, half-up, to the currency's minor
units.  Its hash is taken over its canonical JSON, so identical inputs give an identical
hash in any process, on any store.

Rules worth knowing (the README explains them with examples):

* Credit comes from ``Facts.credits`` (splits, named rep or territory, as the plan says).
  A cancellation within the clawback window removes ``clawback.share`` of the deal's credit;
  a downward amendment applies only within the window; upward amendments always apply.
* A deal's product lines share its amount for commission in proportion (splits, clawback
  share, amendments without lines); rules measured per line pay each matching line, rules on
  margin pay on amount - cost.  In an exclusive group only the matching rule of highest
  precedence (priority, then filter specificity) pays a deal or line.
* Graduated tiers pay each slice of revenue at its own rate; retroactive tiers pay all
  revenue at the rate of the tier reached.  A tier's lower bound is inclusive.
* A gate pays nothing below the attainment it names; a cap adds a negative line down to it.
* A recoverable draw is evaluated period by period from the plan's first period: each pays
  the larger of earnings and draw, the shortfall is owed, and earnings above the draw
  first repay what is owed.
* A component's ``holdback`` holds back a share of its pay per deal (cap first, then hold)
  and releases it in the period its day falls in; a deal cancelled first forfeits it, the
  held share absorbing a clawback first (see ``holdback``).
* A team pool is funded from the credits of reps who were in the team on their deals' close
  dates (or a fixed amount) and shared among the members on the period's last day, by credit
  or equally, by largest remainder so that the shares sum to the pool.
* Closed periods are never rewritten: the first open period after a closed one carries an
  adjustment line per closed period whose recomputed result differs from what was paid.

The package is split by concept: ``statement`` (lines, statements, their hash), ``book``
(which plan version applies), ``credits`` (clawback rules, plan currency), ``filters``,
``context`` (what handlers work on, gates, caps, tiers), ``units`` (deals and product lines
that per-unit rules pay on, margin, exclusive groups), ``components`` (one module per
component kind and the table of their handlers), ``holdback`` (held pay, releases and
forfeits), ``lines`` (a period's own lines),
``adjustments`` (closed periods) and ``core`` (``evaluate``, ``statements``).
"""

from __future__ import annotations

from plans.evaluate.book import PlanBook, covers
from plans.evaluate.components import HANDLERS, Handler, component_kinds
from plans.evaluate.core import evaluate, statements
from plans.evaluate.credits import Credited, clawback_amount, credits_for, quota_for
from plans.evaluate.filters import matches
from plans.evaluate.statement import PRIOR, EvaluationError, Line, Statement

__all__ = [
    "HANDLERS",
    "PRIOR",
    "Credited",
    "EvaluationError",
    "Handler",
    "Line",
    "PlanBook",
    "Statement",
    "clawback_amount",
    "component_kinds",
    "covers",
    "credits_for",
    "evaluate",
    "matches",
    "quota_for",
    "statements",
]
