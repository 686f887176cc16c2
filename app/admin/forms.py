"""The admin's forms: branches, users, passwords and products, validated on the server.

Every message is a lazy translation with an English msgid, so a form
re-rendered with its errors reads in the user's language.
"""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TimeField,
)
from wtforms.validators import (
    DataRequired,
    EqualTo,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from ..i18n import ui_lang
from ..models import ROLE_LABELS, Branch, Role
from ..models.catalog import RISK_LEVELS

MIN_PASSWORD_LENGTH = 10

# Roles whose people work in exactly one branch; area supervisors cover several
# and admins all of them (docs/product-rules.md, "People and roles").
SINGLE_BRANCH_ROLES = frozenset(
    {Role.LOBBY_MANAGER, Role.TELLER, Role.WEALTH_MANAGER, Role.BRANCH_SUPERVISOR}
)

# Offered as suggestions beside the free-text time zone field.
COMMON_TIMEZONES = (
    "Asia/Shanghai",
    "Asia/Urumqi",
    "Asia/Hong_Kong",
    "Asia/Macau",
    "Asia/Taipei",
    "Asia/Singapore",
    "UTC",
)


# Files in the tz database that are not places: the server's own zone, a placeholder.
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


@lru_cache(maxsize=1)
def _known_timezones() -> frozenset[str]:
    # available_timezones() walks the tz database on every call: read it once.
    return frozenset(available_timezones())


def is_timezone(name: str) -> bool:
    """True for an IANA name such as Asia/Shanghai (not 'localtime', not a path)."""
    if name in _NOT_ZONES or name not in _known_timezones():
        return False
    try:
        ZoneInfo(name)
    except (ValueError, LookupError, OSError):
        return False
    return True


def validate_timezone(form, field) -> None:
    if field.data and not is_timezone(field.data):
        raise ValidationError(_l("Unknown time zone. Use a name such as Asia/Shanghai."))


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _lower_strip(value):
    return value.strip().lower() if isinstance(value, str) else value


def _branch_label(branch: Branch) -> str:
    """A branch as a choice: its name in the reader's language, and whether it is inactive."""
    name = branch.display_name(ui_lang())
    return name if branch.active else str(_l("%(name)s (inactive)", name=name))


class MultiCheckboxField(SelectMultipleField):
    """Checkboxes instead of a <select multiple>: easier to hit on a tablet."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _role_choices():
    return [(role.value, ROLE_LABELS[role]) for role in Role]


class BranchForm(FlaskForm):
    code = StringField(
        _l("Code"),
        filters=[_lower_strip],
        validators=[
            DataRequired(_l("Enter a code.")),
            Length(max=32),
            Regexp(
                r"^[a-z0-9][a-z0-9-]*$",
                message=_l("Use lowercase letters, digits and hyphens only."),
            ),
        ],
        render_kw={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"},
    )
    name = StringField(
        _l("Name (Chinese)"),
        filters=[_strip],
        validators=[DataRequired(_l("Enter the branch's name.")), Length(max=100)],
    )
    name_en = StringField(
        _l("Name (English)"), filters=[_strip], validators=[Optional(), Length(max=100)]
    )
    timezone = StringField(
        _l("Time zone"),
        filters=[_strip],
        default="Asia/Shanghai",
        validators=[DataRequired(_l("Enter a time zone.")), Length(max=64), validate_timezone],
        render_kw={
            "list": "timezones",
            "autocomplete": "off",
            "autocapitalize": "none",
            "spellcheck": "false",
        },
    )
    opens_at = TimeField(_l("Opens at"), validators=[InputRequired(_l("Enter the opening time."))])
    wait_warn_minutes = IntegerField(
        _l("Waiting: amber after (minutes)"),
        default=10,
        validators=[
            InputRequired(_l("Enter a number of minutes.")),
            NumberRange(min=1, max=240, message=_l("Enter a number from %(min)s to %(max)s.")),
        ],
        render_kw={"inputmode": "numeric"},
    )
    wait_alert_minutes = IntegerField(
        _l("Waiting: red after (minutes)"),
        default=30,
        validators=[
            InputRequired(_l("Enter a number of minutes.")),
            NumberRange(min=1, max=480, message=_l("Enter a number from %(min)s to %(max)s.")),
        ],
        render_kw={"inputmode": "numeric"},
    )

    referral_take_minutes = IntegerField(
        _l("Referral nobody took: amber after (minutes)"),
        default=3,
        # Optional: forms (and clients) from before it existed keep the default.
        filters=[lambda value: 3 if value is None else value],
        validators=[
            Optional(),
            NumberRange(min=1, max=60, message=_l("Enter a number from %(min)s to %(max)s.")),
        ],
        render_kw={"inputmode": "numeric"},
    )

    def validate_wait_alert_minutes(self, field) -> None:
        warn = self.wait_warn_minutes.data
        if isinstance(warn, int) and isinstance(field.data, int) and field.data <= warn:
            raise ValidationError(_l("The red threshold must be longer than the amber one."))


def _password_fields():
    password = PasswordField(
        _l("Password"),
        validators=[
            DataRequired(_l("Enter a password.")),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=256,
                message=_l("The password must have %(min)d to %(max)d characters."),
            ),
        ],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("Password again"),
        validators=[
            DataRequired(_l("Enter the password again.")),
            EqualTo("password", message=_l("The two passwords differ.")),
        ],
        render_kw={"autocomplete": "new-password"},
    )
    return password, confirm


class _UserFields(FlaskForm):
    display_name = StringField(
        _l("Display name"), filters=[_strip], validators=[Optional(), Length(max=100)]
    )
    role = SelectField(
        _l("Role"), choices=_role_choices, validators=[DataRequired(_l("Choose a role."))]
    )
    branches = MultiCheckboxField(_l("Branches"), coerce=int)

    def set_branch_choices(self, branches) -> None:
        self.branches.choices = [(b.id, _branch_label(b)) for b in branches]

    def validate_branches(self, field) -> None:
        try:
            role = Role(self.role.data)
        except ValueError:
            return  # the role field reports it
        count = len(field.data or [])
        if role in SINGLE_BRANCH_ROLES and count != 1:
            raise ValidationError(_l("This role works in exactly one branch: choose one."))
        if role is Role.AREA_SUPERVISOR and count < 1:
            raise ValidationError(_l("Choose at least one branch."))


class UserCreateForm(_UserFields):
    username = StringField(
        _l("Username"),
        filters=[_lower_strip],
        validators=[
            DataRequired(_l("Enter a username.")),
            Length(max=64),
            Regexp(
                r"^[a-z0-9][a-z0-9._-]*$",
                message=_l("Use lowercase letters, digits, dots, hyphens and underscores only."),
            ),
        ],
        render_kw={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"},
    )
    password, confirm = _password_fields()


class UserEditForm(_UserFields):
    pass


class PasswordResetForm(FlaskForm):
    password, confirm = _password_fields()


class UserFilterForm(FlaskForm):
    """The user list's filters, read from the query string (a GET: no CSRF token)."""

    class Meta:
        csrf = False

    branch = SelectField(_l("Branch"), default="")
    role = SelectField(_l("Role"), default="")

    def set_choices(self, branches) -> None:
        self.branch.choices = [("", _l("All branches"))] + [
            (b.code, b.display_name(ui_lang())) for b in branches
        ]
        self.role.choices = [("", _l("All roles"))] + _role_choices()


class AuditFilterForm(FlaskForm):
    """The audit log's filters, read from the query string (a GET: no CSRF token)."""

    class Meta:
        csrf = False

    user = SelectField(_l("User"), default="")
    branch = SelectField(_l("Branch"), default="")
    type = SelectField(_l("Event type"), default="")
    device = StringField(_l("Device"), validators=[Optional(), Length(max=64)])
    day_from = DateField(_l("From"), validators=[Optional()])
    day_to = DateField(_l("To"), validators=[Optional()])
    # The keyset cursor: show events accepted before this position.
    before = IntegerField(validators=[Optional(), NumberRange(min=1)])

    def set_choices(self, users, branches, event_types) -> None:
        self.user.choices = [("", _l("Everyone"))] + [
            (u.username, f"{u.display_name or u.username} ({u.username})") for u in users
        ]
        self.branch.choices = [("", _l("All branches"))] + [
            (b.code, b.display_name(ui_lang())) for b in branches
        ]
        self.type.choices = [("", _l("All event types"))] + [(t, t) for t in event_types]

    def validate_day_to(self, field) -> None:
        if field.data and self.day_from.data and field.data < self.day_from.data:
            raise ValidationError(_l("The end date is before the start date."))


class SignInFilterForm(FlaskForm):
    class Meta:
        csrf = False

    user = SelectField(_l("User"), default="")
    page = IntegerField(validators=[Optional(), NumberRange(min=1, max=10_000)])

    def set_choices(self, users) -> None:
        self.user.choices = [("", _l("Everyone"))] + [
            (u.username, f"{u.display_name or u.username} ({u.username})") for u in users
        ]


class ProductForm(FlaskForm):
    """A product of the bank's catalogue and the branches that offer it."""

    code = StringField(
        _l("Code"),
        filters=[_strip],
        validators=[
            DataRequired(_l("Enter a code.")),
            Length(max=32),
            Regexp(
                r"^[A-Za-z0-9_-]+$",
                message=_l("Use letters, digits, hyphens and underscores only."),
            ),
        ],
        render_kw={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"},
    )
    name = StringField(
        _l("Name (Chinese)"),
        filters=[_strip],
        validators=[DataRequired(_l("Enter the product's name.")), Length(max=100)],
    )
    name_en = StringField(
        _l("Name (English)"), filters=[_strip], validators=[Optional(), Length(max=100)]
    )
    pitch = StringField(
        _l("One-line pitch (Chinese)"), filters=[_strip], validators=[Optional(), Length(max=120)]
    )
    pitch_en = StringField(
        _l("One-line pitch (English)"), filters=[_strip], validators=[Optional(), Length(max=120)]
    )
    needs = MultiCheckboxField(_l("Needs it answers"))
    risk_level = SelectField(
        _l("Risk level"),
        choices=[(r, r) for r in RISK_LEVELS],
        validators=[DataRequired(_l("Choose a risk level."))],
    )
    ends_on = DateField(_l("Last day of sale"), validators=[Optional()])
    branches = MultiCheckboxField(_l("Offered in"), coerce=int)

    def set_choices(self, need_tags, branches) -> None:
        self.needs.choices = list(need_tags)
        self.branches.choices = [(b.id, _branch_label(b)) for b in branches]
