"""The message catalogues: complete for every marked string, nothing fuzzy, compiled from the .po at run time."""
from __future__ import annotations

import pytest

from gridwatch import i18n
from gridwatch.categories import CATEGORIES


def test_every_marked_string_is_translated_and_nothing_is_fuzzy_or_stale() -> None:
    marked = i18n.extract_messages()
    assert "Alerts today" in marked and "Online" in marked  # the extractor finds the wall's strings
    for lang in i18n.TRANSLATED:
        assert i18n.catalogue_problems(lang, marked) == []


def test_no_compiled_catalogue_is_kept_beside_the_po_files() -> None:
    stale = sorted(p.name for p in i18n.LOCALES_DIR.rglob("*.mo"))
    assert stale == [], "the .po files are the only source; .mo files are compiled in memory"


def test_chinese_is_the_default_and_english_the_source_language() -> None:
    assert i18n.translator().lang == "zh_CN"
    assert i18n.translator().gettext("Alerts today") == "今日告警"
    assert i18n.translator("en").gettext("Alerts today") == "Alerts today"
    assert i18n.translator("zh_CN").gettext("{fps} fps").format(fps="4.9") == "4.9 帧/秒"


@pytest.mark.parametrize(("raw", "lang"), [
    ("en", "en"), ("en-US", "en"), ("EN_gb", "en"), ("zh", "zh_CN"), ("zh-CN", "zh_CN"), ("zh-Hans-CN", "zh_CN"),
    ("fr", None), ("", None), (None, None),
])
def test_language_names_are_normalised(raw: str | None, lang: str | None) -> None:
    assert i18n.normalize(raw) == lang


def test_numbers_are_formatted_for_the_locale() -> None:
    zh, en = i18n.translator("zh_CN"), i18n.translator("en")
    assert zh.number(12345) == "12,345" and en.number(12345) == "12,345"
    assert zh.decimal(4.94, 1) == "4.9" and en.decimal(5, 1) == "5.0"
    assert zh.percent(0.87) == "87%"
    assert zh.bcp47 == "zh-CN" and en.bcp47 == "en"


def test_category_names_come_from_the_category_table() -> None:
    for code, cat in CATEGORIES.items():
        assert i18n.category_name(code, "zh_CN") == cat.name_zh
        assert i18n.category_name(code, "en") == cat.name_en
    assert i18n.category_name("9999", "en") == "9999"


def test_an_unsupported_language_is_a_clear_error() -> None:
    with pytest.raises(i18n.CatalogueError, match="unsupported language 'fr'.*zh_CN, en"):
        i18n.Translator("fr")
