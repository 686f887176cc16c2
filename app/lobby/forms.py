"""The lobby's forms posted from desk pages: a complaint opened, answered or closed, and
the admin's lobby settings.

What a complaint may hold is the event's to judge (`complaint.opened` and its
steps in app/lobby/complaints.py, through `events.record`); the forms read what
the page posted, under its names, and where to go back to.
"""

from __future__ import annotations

from collections.abc import Sequence

from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import StringField

from ..form_helpers import stripped, text
from ..models import NeedTag
from ..vocabulary import AMOUNT_BANDS, PURPOSES, ROUTES
from .rules import Rule


class ComplaintStepForm(FlaskForm):
    """A complaint answered or resolved; `back` names the page the form was on."""

    note = StringField(filters=[stripped])
    back = StringField(filters=[text])


class ComplaintForm(ComplaintStepForm):
    category = StringField(filters=[text])
    source = StringField(filters=[text])  # empty: where the person who opens it works


class LobbySettingsForm(FlaskForm):
    """The admin's lobby settings: a branch's triage rules and machines, the need tags.

    Its fields are named after the purposes and the tags (`route-cash`,
    `tag-3-name`, ...), so the class is made for the tags of the moment
    (`for_tags`). `validate()` collects at most one message per rule broken,
    in the page's order (`problems`), and what to save: `rules`, `machines`,
    `tag_updates`, `new_tag`.
    """

    machines = StringField(filters=[text])
    new_tag_code = StringField(filters=[text])
    new_tag_name = StringField(filters=[stripped])
    new_tag_name_en = StringField(filters=[stripped])

    @classmethod
    def for_tags(cls, tags: Sequence[NeedTag]) -> LobbySettingsForm:
        fields: dict = {}
        for purpose in PURPOSES:
            for prefix in ("route", "band", "large"):
                fields[f"{prefix}_{purpose}"] = StringField(
                    name=f"{prefix}-{purpose}", filters=[text]
                )
        for tag in tags:
            for suffix in ("name", "name_en"):
                fields[f"tag_{tag.id}_{suffix}"] = StringField(
                    name=f"tag-{tag.id}-{suffix}", filters=[stripped]
                )
            fields[f"tag_{tag.id}_active"] = StringField(
                name=f"tag-{tag.id}-active", filters=[text]
            )
        form_class = type("LobbySettingsFormOfTags", (cls,), fields)
        form = form_class()
        form.tags = list(tags)
        return form

    tags: list[NeedTag]
    by_name: dict
    problems: list[str]
    rules: list[Rule]
    machine_names: list[str]
    tag_updates: list[tuple[NeedTag, str, str, bool]]

    def value(self, name: str) -> str:
        """The data of the field posted as `name` (`route-cash`: not a Python name)."""
        return self.by_name[name].data

    def validate(self, extra_validators=None) -> bool:
        fields_valid = super().validate(extra_validators)  # no field has validators of its own
        self.by_name = {field.name: field for field in self}
        self.problems = []
        self._check_rules()
        self._check_machines()
        self._check_tags()
        return fields_valid and not self.problems

    def _check_rules(self) -> None:
        self.rules = []
        for purpose in PURPOSES:
            route = self.value(f"route-{purpose}")
            if route not in ROUTES:
                self.problems.append(_("Choose a route for every purpose."))
                return
            self.rules.append(Rule(purpose, route))
            band, large_route = self.value(f"band-{purpose}"), self.value(f"large-{purpose}")
            if band:
                if band not in AMOUNT_BANDS or large_route not in ROUTES:
                    self.problems.append(
                        _("A large-amount rule needs both an amount band and a route.")
                    )
                    return
                self.rules.append(Rule(purpose, large_route, band))

    def _check_machines(self) -> None:
        self.machine_names = []
        for line in self.machines.data.splitlines():
            name = line.strip()
            if not name:
                continue
            if len(name) > 60:
                self.problems.append(_("A machine's name has at most 60 characters."))
                return
            if name not in self.machine_names:
                self.machine_names.append(name)

    def _check_tags(self) -> None:
        self.tag_updates = []
        for tag in self.tags:
            name = self.value(f"tag-{tag.id}-name")
            name_en = self.value(f"tag-{tag.id}-name_en")
            if not name or len(name) > 60 or len(name_en) > 60:
                self.problems.append(_("Every need tag needs a name of at most 60 characters."))
                break
            active = self.value(f"tag-{tag.id}-active") == "on"
            self.tag_updates.append((tag, name, name_en, active))
        new_code, new_name = self.new_tag_code_value, self.new_tag_name.data
        if new_code or new_name:
            if (
                not new_code.replace("_", "").isalnum()
                or not new_code.isascii()
                or len(new_code) > 32
                or not new_name
                or len(new_name) > 60
            ):
                self.problems.append(
                    _("A new need tag needs a code (letters, digits, _) and a name.")
                )
            elif any(t.code == new_code for t in self.tags):
                self.problems.append(_("A need tag with this code exists already."))

    @property
    def new_tag_code_value(self) -> str:
        """The new tag's code as stored: trimmed, lower case."""
        return self.new_tag_code.data.strip().lower()

    @property
    def new_tag(self) -> tuple[str, str, str] | None:
        """(code, name, English name) of a tag to add, once the form is valid."""
        if not self.new_tag_code_value:
            return None
        return self.new_tag_code_value, self.new_tag_name.data, self.new_tag_name_en.data[:60]
