"""The domain models, one module per aggregate."""

from .branch import ROLE_LABELS, Branch, Role, User, user_branches
from .catalog import DailyTarget, FocusProduct, Product  # noqa: F401
from .checklist import (  # noqa: F401
    ChecklistEntry,
    ChecklistRun,
    Equipment,
    Fault,
    FaultPhoto,
    Leaflet,
    TemplateItem,
)
from .complaint import Complaint  # noqa: F401  (lobby/complaints)
from .event import Event, Subject
from .figures import FigureDay, FigureSubject, SpotCheck  # noqa: F401  (supervisor)
from .lobby_settings import NeedTag, RouteRule, SelfServiceMachine  # noqa: F401  (lobby)
from .referral import Referral  # noqa: F401  (lobby/referrals)
from .settings_version import SETTINGS_RECHECK_SECONDS  # noqa: F401  (and its listener)
from .sign_in import SignIn
from .visit import Visit, VisitRecommendation  # noqa: F401

__all__ = [
    "ROLE_LABELS",
    "Branch",
    "Role",
    "User",
    "user_branches",
    "Event",
    "Subject",
    "SignIn",
    "Visit",
    "Product",
]
