"""The catalogues are complete and in step: every message has a Chinese translation, the
committed .mo is the compiled .po, and translated reason templates keep their placeholders."""

from __future__ import annotations

import string

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from serve.web import catalog
from serve.web.i18n import negotiate, reason_sentence

from riskml.features.registry import FEATURES


def _po() -> dict[str, str]:
    with catalog.po_path("zh").open("rb") as fh:
        return {m.id: m.string for m in read_po(fh, locale="zh") if m.id}


def test_every_message_of_the_pages_and_reasons_has_a_chinese_translation() -> None:
    po = _po()
    wanted = {m.id for m in catalog.template_catalog() if m.id}
    missing = sorted(wanted - set(po))
    untranslated = sorted(k for k in wanted & set(po) if not po[k])
    assert not missing, f"not in the .po (run python -m serve.web.catalog): {missing[:5]}"
    assert not untranslated, f"no translation: {untranslated[:5]}"


def test_the_committed_mo_is_the_compiled_po() -> None:
    mo_path = catalog.po_path("zh").with_suffix(".mo")
    with mo_path.open("rb") as fh:
        mo = {m.id: m.string for m in read_mo(fh) if m.id}
    assert mo == _po(), "messages.mo is stale: run python -m serve.web.catalog"


def _fields(template: str) -> set[tuple[str, str]]:
    return {(n, spec) for _, n, spec, _ in string.Formatter().parse(template) if n is not None}


def test_translated_reason_templates_keep_their_placeholders_and_format() -> None:
    po = _po()
    for name, spec in FEATURES.items():
        assert _fields(po[spec.reason]) == _fields(spec.reason), name
        value = 0.0 if spec.labels is None else 1.0
        text = reason_sentence({"feature": name, "value": value, "text": "x"}, "zh")
        assert text and text != spec.reason


def test_reasons_read_in_the_language_of_the_page() -> None:
    r = {"feature": "length_of_stay_days", "value": 12.0, "text": "stayed 12 days in hospital"}
    assert reason_sentence(r, "en") == "stayed 12 days in hospital"
    assert reason_sentence(r, "zh") == "住院 12 天"
    label = {"feature": "channel_code", "value": 2.0, "text": "submitted through the online"}
    assert reason_sentence(label, "zh") == "通过网上渠道提交"
    unknown = {"feature": "a_feature_of_a_newer_model", "value": 1.0, "text": "as stored"}
    assert reason_sentence(unknown, "zh") == "as stored"


def test_the_browser_language_is_negotiated() -> None:
    assert negotiate("zh-CN,zh;q=0.9,en;q=0.8") == "zh"
    assert negotiate("en-US,en;q=0.9,zh;q=0.5") == "en"
    assert negotiate("fr-FR") == "en"
    assert negotiate(None) == "en"
    assert negotiate("zh-Hans-CN") == "zh"
