"""The wealth manager's outcome of a conversation with a waiting customer.

What an outcome may hold is the event's to judge (`visit.wealth_outcome`,
through `events.record`); the form reads what the page posted, under its names.
"""

from __future__ import annotations

from ..form_helpers import SaleOutcomeForm


class WealthOutcomeForm(SaleOutcomeForm):
    """How a talk with a waiting customer ended (`visit.wealth_outcome`)."""
