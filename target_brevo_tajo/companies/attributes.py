"""The account's company attributes: looked up by label, created when the settings allow."""

from __future__ import annotations

import logging
from typing import Any

from target_brevo_tajo.brevo import BrevoError
from target_brevo_tajo.companies.api import BrevoCompanies
from target_brevo_tajo.companies.rows import GROUP_ATTRIBUTE_LABEL
from target_brevo_tajo.contacts.attributes import AttributeType, infer_type
from target_brevo_tajo.report import CompaniesReport
from target_brevo_tajo.settings import Settings

# Company attribute types (Brevo CRM) for the contact types ``infer_type`` gives.
CRM_TYPES = {"float": "number", "boolean": "boolean", "date": "date"}
CONTACT_TYPES = {"number": "float", "boolean": "boolean", "date": "date"}

logger = logging.getLogger("target-brevo-tajo")


class CompanyAttributes:
    """The account's company attributes, read only when a company must be sent."""

    def __init__(
        self, companies: BrevoCompanies, settings: Settings, report: CompaniesReport
    ) -> None:
        self._companies = companies
        self._settings = settings
        self._report = report
        self._by_label: dict[str, dict[str, Any]] | None = None

    def _load(self) -> dict[str, dict[str, Any]]:
        if self._by_label is None:
            listed = self._companies.attributes()
            self._by_label = {}
            for item in listed:
                for key in (item.get("label"), item.get("internalName")):
                    if key:
                        self._by_label[str(key)] = item
        return self._by_label

    def has(self, label: str) -> bool:
        """Whether the account has this company attribute (label or internal name)."""
        return label in self._load()

    def group_attribute(self) -> str:
        """The internal name of the Mixpanel group attribute, created when the account lacks it."""
        found = self._load().get(GROUP_ATTRIBUTE_LABEL)
        if found is None:
            self._companies.create_attribute(GROUP_ATTRIBUTE_LABEL, "text")
            self._report.created_attributes.append(GROUP_ATTRIBUTE_LABEL)
            self._by_label = None
            found = self._load().get(GROUP_ATTRIBUTE_LABEL)
        if found is None:
            msg = f"Brevo did not list the company attribute {GROUP_ATTRIBUTE_LABEL!r} it created"
            raise BrevoError(msg)
        return str(found["internalName"])

    def column(self, label: str, sample: Any) -> tuple[str, AttributeType] | None:
        """The import column and type of a mapped attribute; None when it is left out."""
        found = self._load().get(label)
        if found is None and self._settings.create_missing_attributes:
            kind = CRM_TYPES.get(infer_type(sample), "text")
            self._companies.create_attribute(label, kind)
            self._report.created_attributes.append(f"{label} ({kind})")
            self._by_label = None
            found = self._load().get(label)
        if found is None:
            if label not in self._report.missing_attributes:
                self._report.missing_attributes.append(label)
                logger.warning(
                    "Brevo has no company attribute %s: its values are left out (create it in "
                    "Brevo, or set create_missing_attributes: true)",
                    label,
                )
            return None
        kind = CONTACT_TYPES.get(str(found.get("attributeTypeName")), "text")
        return str(found["internalName"]), AttributeType(name=label, type=kind)
