"""Chinese and English: Babel message catalogues, one Jinja2 environment per language.

The language is the user's choice (kept in the session) or else the browser's
``Accept-Language``; the data stay the same. Reason sentences are re-rendered from the feature's
reason template, translated by the catalogue, with the stored value, so an investigator reads
them in their language. The compiled ``.mo`` files are committed next to the ``.po`` files (a
test checks they are in step), so nothing needs a manual step.
"""

from __future__ import annotations

import datetime as dt
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime
from babel.numbers import format_decimal, format_percent
from babel.support import NullTranslations, Translations
from jinja2 import Environment, FileSystemLoader, select_autoescape

HERE = Path(__file__).parent
LOCALE_DIR = HERE / "locale"
TEMPLATE_DIR = HERE / "templates"
LANGUAGES: tuple[str, ...] = ("en", "zh")
DEFAULT_LANGUAGE = "en"
#: Babel locale used for number and date formats per language.
BABEL_LOCALES = {"en": "en_GB", "zh": "zh_Hans_CN"}


def negotiate(accept_language: str | None) -> str:
    """The best of :data:`LANGUAGES` for an ``Accept-Language`` header (quality-ordered)."""
    if not accept_language:
        return DEFAULT_LANGUAGE
    prefs: list[tuple[float, str]] = []
    for part in accept_language.split(","):
        tag, _, q = part.strip().partition(";q=")
        try:
            quality = float(q) if q else 1.0
        except ValueError:
            continue
        if tag and tag != "*":
            prefs.append((quality, tag.strip()))
    ordered = [tag for _, tag in sorted(prefs, key=lambda p: -p[0])]
    try:
        found = Locale.negotiate(ordered, list(LANGUAGES), sep="-")
    except (UnknownLocaleError, ValueError):
        found = None
    return str(found.language) if found is not None else DEFAULT_LANGUAGE


@lru_cache(maxsize=len(LANGUAGES))
def translations(language: str) -> NullTranslations:
    if language == DEFAULT_LANGUAGE:
        return NullTranslations()
    return Translations.load(str(LOCALE_DIR), [language], domain="messages")


def reason_sentence(reason: dict[str, Any], language: str) -> str:
    """The reason's sentence in ``language``: the feature's translated template with its value;
    the stored text when the feature is unknown to this version of riskml."""
    from riskml.features.registry import FEATURES

    spec = FEATURES.get(str(reason.get("feature")))
    if spec is None:
        return str(reason.get("text", ""))
    gettext = translations(language).gettext
    value = reason.get("value")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return str(reason.get("text", ""))
    v = float(value)
    label = ""
    if spec.labels is not None:
        code = round(v)
        label = gettext(spec.labels[code]) if 0 <= code < len(spec.labels) else f"code {code}"
    try:
        return gettext(spec.reason).format(value=v, label=label)
    except (KeyError, ValueError, IndexError):  # a broken translation: fall back to English
        return spec.reason.format(value=v, label=label)


def _filters(language: str) -> dict[str, Any]:
    loc = BABEL_LOCALES[language]

    def money(value: Any) -> str:
        if value is None:
            return "–"
        return "¥" + format_decimal(float(value), format="#,##0.00", locale=loc)

    def number(value: Any, digits: int = 0) -> str:
        if value is None:
            return "–"
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(float(value), format=pattern, locale=loc)

    def percent(value: Any) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "–"
        return format_percent(float(value), format="#,##0.0%", locale=loc)

    def when(value: Any) -> str:
        if value is None:
            return "–"
        if isinstance(value, dt.datetime):
            return format_datetime(value, format="yyyy-MM-dd HH:mm", locale=loc)
        return str(value)

    return {"money": money, "number": number, "percent": percent, "when": when}


@lru_cache(maxsize=len(LANGUAGES))
def environment(language: str) -> Environment:
    """The Jinja2 environment of one language (autoescaped, gettext installed)."""
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=select_autoescape(["html", "svg"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(_filters(language))
    env.globals["language"] = language
    env.globals["reason_sentence"] = lambda r: reason_sentence(r, language)
    return env
