"""The workspace's message catalogue: what is translated, and how the catalogue is rebuilt.

Messages come from three places: the templates (``_()`` calls, extracted by Babel), the
domain words the templates translate at run time (bands, benefits, outcomes, typologies,
statuses, roles, the messages of the pages; listed in :data:`RUNTIME_MESSAGES`), and the
features' reason templates and labels (:mod:`riskml.features.registry`), so reasons read in the
investigator's language. ``python -m serve.web.catalog`` rebuilds ``messages.pot``, updates every
language's ``messages.po`` and compiles ``messages.mo``; a test checks the committed files are in
step and that every message has a translation.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from riskml.bands import BANDS
from riskml.contract import BENEFIT_TYPES, OUTCOMES, TYPOLOGIES
from riskml.security import ROLES
from riskml.store.workspace_schema import DECISION_KINDS, STATUSES
from serve.web.i18n import LANGUAGES, LOCALE_DIR, TEMPLATE_DIR

DOMAIN = "messages"

#: Messages the pages pass to the templates (errors, flashes) and other run-time words.
PAGE_MESSAGES: tuple[str, ...] = (
    "unknown or revoked key",
    "decision recorded",
    "too many changes in a short time; wait a minute",
    "too many login attempts; wait a minute",
    "the form has expired or did not come from this site; reload it",
    "no such claim in the store",
    "unknown action",
    "say why the kill switch is changed",
    "cut-offs in [0, 1] and a reason are needed",
    "approve or reject",
    "a proposal must be approved by someone other than its proposer",
    "no scored claim is left to draw from",
    "all",
    "mine",
    "unassigned",
    "open",
    "pending",
    "approved",
    "rejected",
    "random_audit",
    "sex",
    "hukou_type",
    "age_band",
    "region",
    "region_code",
)
#: Codes shown in the pages (claims' channels, items' categories, providers' types).
CODES: tuple[str, ...] = (
    "provider_direct",
    "counter",
    "online",
    "drug",
    "exam",
    "procedure",
    "bed",
    "material",
    "service",
    "hospital",
    "clinic",
    "pharmacy",
    "rehab",
)
RUNTIME_MESSAGES: tuple[str, ...] = (
    *BANDS,
    *BENEFIT_TYPES,
    *OUTCOMES,
    *TYPOLOGIES,
    *STATUSES,
    *DECISION_KINDS,
    *ROLES,
    *CODES,
    *PAGE_MESSAGES,
)


def reason_messages() -> Iterator[str]:
    """Every feature's reason template and label."""
    from riskml.features.registry import FEATURES

    for spec in FEATURES.values():
        yield spec.reason
        yield from spec.labels or ()


def template_messages() -> Iterator[str]:
    method_map = [("**.html", "jinja2")]
    options = {"**.html": {"extensions": "jinja2.ext.i18n"}}
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(TEMPLATE_DIR), method_map, options_map=options
    ):
        if isinstance(message, str):
            yield message


def template_catalog() -> Catalog:
    """The catalogue of every message, untranslated (``messages.pot``)."""
    catalog = Catalog(project="riskml", domain=DOMAIN, fuzzy=False)
    seen: set[str] = set()
    for message in (*template_messages(), *RUNTIME_MESSAGES, *reason_messages()):
        if message and message not in seen:
            seen.add(message)
            catalog.add(message)
    return catalog


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def compiled(language: str) -> bytes:
    """The ``.mo`` bytes of a language's ``.po`` file."""
    with po_path(language).open("rb") as fh:
        catalog = read_po(fh, locale=language)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    return buf.getvalue()


def rebuild() -> None:
    """Write ``messages.pot``, update each language's ``.po`` (new messages untranslated,
    obsolete ones dropped) and compile its ``.mo``."""
    template = template_catalog()
    with (LOCALE_DIR / f"{DOMAIN}.pot").open("wb") as fh:
        write_po(fh, template, omit_header=False, sort_output=True)
    for language in LANGUAGES:
        if language == "en":
            continue
        path = po_path(language)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            with path.open("rb") as fh:
                catalog = read_po(fh, locale=language)
        else:
            catalog = Catalog(locale=language, project="riskml", domain=DOMAIN)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        with path.open("wb") as fh:
            write_po(fh, catalog, sort_output=True, width=100)
        path.with_suffix(".mo").write_bytes(compiled(language))


if __name__ == "__main__":
    rebuild()
