"""The domain models, one module per aggregate."""
from .branch import ROLE_LABELS, Branch, Role, User, user_branches
from .catalog import DailyTarget, FocusProduct, Product  # noqa: F401
from .checklist import ChecklistEntry, ChecklistRun, Equipment, Fault, FaultPhoto, Leaflet, TemplateItem  # noqa: F401
from .event import Event, Subject
from .sign_in import SignIn
from .visit import Visit, VisitRecommendation  # noqa: F401
from .referral import Referral  # noqa: F401  (lobby/referrals)
from .lobby_settings import NeedTag, RouteRule, SelfServiceMachine  # noqa: F401  (lobby)
from .complaint import Complaint  # noqa: F401  (lobby/complaints)
from .figures import FigureDay, FigureSubject, SpotCheck  # noqa: F401  (supervisor)

__all__ = ["ROLE_LABELS", "Branch", "Role", "User", "user_branches", "Event", "Subject", "SignIn", "Visit", "Product"]
