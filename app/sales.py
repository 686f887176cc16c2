"""What a sale is, for every event that records one.

`SaleOutcome` is the payload part a wealth manager's result shares, whether it
closes a referral (`referral.outcome`) or a talk in the waiting area
(`visit.wealth_outcome`); `check_products` refuses a product the branch does not
offer, for those and for a recommendation or a teller's pitch.
"""

from __future__ import annotations

from flask_babel import gettext as _
from pydantic import Field, model_validator
from sqlalchemy import select

from .clock import local_day
from .events import Applied, Payload, Rejected
from .extensions import db
from .models import Product
from .vocabulary import AmountBand, ReferralResult


class SaleOutcome(Payload):
    result: ReferralResult
    amount_band: AmountBand | None = None
    product: str | None = Field(default=None, min_length=1, max_length=32)

    @model_validator(mode="after")
    def _band_with_sale(self):
        if self.result == "sold" and self.amount_band is None:
            raise ValueError(_("A sale needs its amount band."))
        if self.result != "sold" and (self.amount_band is not None or self.product is not None):
            raise ValueError(_("An amount band or product goes only with a sale."))
        return self


def check_sold_product(a: Applied) -> None:
    """A `SaleOutcome`'s product, when it names one, is the branch's to sell."""
    if a.payload.product is not None:
        check_products(a, {a.payload.product})


def check_products(a: Applied, codes: set[str]) -> None:
    """Refuse products the branch does not offer, or whose sale had ended that day."""
    offered = db.session.scalars(
        select(Product).where(
            Product.branch_id == a.branch.id, Product.code.in_(codes), Product.active.is_(True)
        )
    ).all()
    missing = codes - {p.code for p in offered}
    if missing:
        raise Rejected(
            "unknown_product",
            _("Not in this branch's catalogue: %(codes)s", codes=", ".join(sorted(missing))),
        )
    # The branch's own day when the event happened: a tablet that was offline
    # syncs the day before's recommendation of a product ending that day.
    day = local_day(a.branch, a.event.occurred_at)
    ended = sorted(p.code for p in offered if p.ended(day))
    if ended:
        raise Rejected(
            "product_ended",
            _(
                "The sale of %(codes)s has ended: it can no longer be recommended.",
                codes=", ".join(ended),
            ),
        )
