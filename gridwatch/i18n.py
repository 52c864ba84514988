"""Languages of the product: gettext message catalogues (Babel) with English message ids, zh_CN by default.

Strings are marked where they are written -- ``t.gettext("Alerts today")`` with a Translator ``t`` of the
request's language, or ``N_("Online")`` for module-level tables translated later -- and translated from
``gridwatch/locales/<lang>/LC_MESSAGES/messages.po``. The .po files are the only source: they are compiled
in memory when first used, so no binary .mo file can go stale. English is the source language and needs
no catalogue.

Maintainers: ``python -m gridwatch.i18n update`` adds newly marked strings to every catalogue (untranslated,
for a translator to fill in) and ``python -m gridwatch.i18n check`` fails while any is missing or fuzzy;
tests/gridwatch/test_i18n.py runs the same check.
"""
from __future__ import annotations

import argparse
import functools
import gettext as gettext_module
import io
import logging
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from babel import Locale, numbers
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from babel.support import Translations

from gridwatch.categories import CATEGORIES

log = logging.getLogger(__name__)

LANGUAGES: tuple[str, ...] = ("zh_CN", "en")
DEFAULT_LANGUAGE = "zh_CN"
SOURCE_LANGUAGE = "en"  # message ids are English
TRANSLATED: tuple[str, ...] = tuple(code for code in LANGUAGES if code != SOURCE_LANGUAGE)  # have catalogues
DOMAIN = "messages"
LOCALES_DIR = Path(__file__).resolve().parent / "locales"
REPO_ROOT = Path(__file__).resolve().parents[1]
# Every first-party package: a string marked anywhere must be in the catalogues.
SOURCE_PACKAGES: tuple[str, ...] = ("gridwatch", "dashboard", "alerts", "vision", "ingest")

# Names shown in the language switch, each in its own language.
LANGUAGE_NAMES = {"zh_CN": "中文", "en": "English"}
_ALIASES = {
    "zh": "zh_CN", "zh_cn": "zh_CN", "zh-cn": "zh_CN", "zh_hans": "zh_CN", "zh-hans": "zh_CN",
    "zh_hans_cn": "zh_CN", "zh-hans-cn": "zh_CN",
    "en": "en", "en_us": "en", "en-us": "en", "en_gb": "en", "en-gb": "en",
}


class CatalogueError(RuntimeError):
    """A message catalogue is missing or unreadable."""


def N_(message: str) -> str:  # noqa: N802 - the conventional gettext marker name
    """Mark a string for the catalogue where it cannot be translated yet (module-level tables)."""
    return message


def normalize(lang: object) -> str | None:
    """``"en-US"`` -> ``"en"``, ``"zh"`` -> ``"zh_CN"``; None for anything not supported."""
    if not isinstance(lang, str):
        return None
    key = lang.strip().lower()
    if key in _ALIASES:
        return _ALIASES[key]
    primary = key.replace("-", "_").split("_", 1)[0]
    return _ALIASES.get(primary)


def catalogue_path(lang: str) -> Path:
    return LOCALES_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalogue(lang: str) -> Catalog:
    path = catalogue_path(lang)
    try:
        with path.open("rb") as fh:
            return read_po(fh, locale=lang, domain=DOMAIN)
    except FileNotFoundError:
        raise CatalogueError(f"message catalogue for {lang} not found at {path}") from None
    except (OSError, ValueError) as exc:
        raise CatalogueError(f"message catalogue {path} is unreadable: {exc}") from None


@functools.cache
def translations(lang: str) -> gettext_module.NullTranslations:
    """The compiled catalogue of a supported language (English: the identity)."""
    if lang == SOURCE_LANGUAGE:
        return gettext_module.NullTranslations()
    if lang not in LANGUAGES:
        raise CatalogueError(f"unsupported language {lang!r}; supported: {', '.join(LANGUAGES)}")
    buf = io.BytesIO()
    # Fuzzy entries are guesses a translator has not confirmed: they are left out, so English shows instead.
    write_mo(buf, read_catalogue(lang), use_fuzzy=False)
    buf.seek(0)
    log.debug("compiled the %s message catalogue in memory", lang)
    return Translations(fp=buf, domain=DOMAIN)


@functools.cache
def babel_locale(lang: str) -> Locale:
    """The CLDR locale behind a language, for dates and numbers."""
    return Locale.parse(normalize(lang) or DEFAULT_LANGUAGE)


@dataclass(frozen=True)
class Translator:
    """Everything language-dependent for one language: messages, numbers, the BCP 47 tag for browsers."""

    lang: str

    def __post_init__(self) -> None:
        if self.lang not in LANGUAGES:
            raise CatalogueError(f"unsupported language {self.lang!r}; supported: {', '.join(LANGUAGES)}")

    def gettext(self, message: str) -> str:
        return translations(self.lang).gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return translations(self.lang).ngettext(singular, plural, n)

    @property
    def locale(self) -> Locale:
        return babel_locale(self.lang)

    @property
    def bcp47(self) -> str:
        """``zh-CN`` / ``en``: for the HTML lang attribute and the browser's Intl formatters."""
        return self.lang.replace("_", "-")

    def number(self, value: int | float) -> str:
        """A count with the locale's grouping: ``12,345``."""
        return numbers.format_decimal(value, locale=self.locale)

    def decimal(self, value: float, digits: int = 1) -> str:
        """A measurement with exactly ``digits`` decimals: ``4.9``."""
        pattern = "#,##0." + "0" * digits if digits > 0 else "#,##0"
        return numbers.format_decimal(value, format=pattern, locale=self.locale)

    def percent(self, fraction: float) -> str:
        """``0.87`` -> ``87%``."""
        return numbers.format_percent(fraction, locale=self.locale)


@functools.cache
def translator(lang: str | None = None) -> Translator:
    """The Translator of ``lang`` (any spelling :func:`normalize` accepts); the default language otherwise."""
    return Translator(normalize(lang) or DEFAULT_LANGUAGE)


def category_name(code: str, lang: str) -> str:
    """A category's name in ``lang``; the names live in gridwatch.categories, not in the catalogues."""
    cat = CATEGORIES.get(code)
    if cat is None:
        return code
    return cat.name_en if normalize(lang) == "en" else cat.name_zh


# --- catalogue maintenance -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Marked:
    """A string marked for translation in the source: its id (and plural id) and where it is."""

    msgid: str
    plural: str | None
    locations: tuple[tuple[str, int], ...]


def extract_messages(packages: Iterable[str] = SOURCE_PACKAGES, root: Path = REPO_ROOT) -> dict[str, Marked]:
    """Every marked string of the first-party Python packages, by message id."""
    found: dict[str, Marked] = {}
    for package in packages:
        folder = root / package
        if not folder.is_dir():
            continue
        for filename, lineno, message, _comments, _context in extract_from_dir(
            folder, method_map=[("**.py", "python")], keywords=DEFAULT_KEYWORDS,
        ):
            msgid, plural = (message[0], message[1]) if isinstance(message, tuple) else (message, None)
            where = (f"{package}/{filename}", lineno)
            old = found.get(msgid)
            found[msgid] = Marked(msgid, plural or (old.plural if old else None),
                                  (old.locations if old else ()) + (where,))
    return found


def catalogue_problems(lang: str, marked: dict[str, Marked] | None = None) -> list[str]:
    """What keeps ``lang``'s catalogue from covering the source: missing, untranslated, fuzzy, obsolete."""
    marked = extract_messages() if marked is None else marked
    catalog = read_catalogue(lang)
    problems: list[str] = []
    for msgid, m in sorted(marked.items()):
        entry = catalog.get(msgid)
        where = f"{m.locations[0][0]}:{m.locations[0][1]}"
        if entry is None:
            problems.append(f"{lang}: {msgid!r} ({where}) is not in the catalogue")
        elif entry.fuzzy:
            problems.append(f"{lang}: {msgid!r} ({where}) is fuzzy")
        elif not entry.string or (isinstance(entry.string, tuple) and not all(entry.string)):
            problems.append(f"{lang}: {msgid!r} ({where}) is not translated")
    for entry in catalog:
        if entry.id and entry.id not in marked:
            problems.append(f"{lang}: {entry.id!r} is in the catalogue but no longer marked in the source")
    if catalog.obsolete:
        problems.append(f"{lang}: {len(catalog.obsolete)} obsolete (#~) entries; delete them")
    if catalog.fuzzy:
        problems.append(f"{lang}: the catalogue header is marked fuzzy; review it and remove the flag")
    return problems


def update_catalogues(langs: Sequence[str] = TRANSLATED) -> None:
    """Merge the marked strings into each catalogue: new ones untranslated, removed ones dropped."""
    marked = extract_messages()
    template = Catalog(domain=DOMAIN)
    for m in marked.values():
        template.add((m.msgid, m.plural) if m.plural else m.msgid, locations=m.locations)
    for lang in langs:
        path = catalogue_path(lang)
        if path.exists():
            catalog = read_catalogue(lang)
        else:
            catalog = Catalog(locale=lang, domain=DOMAIN, project="GridWatch", version="",
                              copyright_holder="the GridWatch authors", fuzzy=False)
        template.creation_date = catalog.creation_date  # an update is not a new catalogue
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            # File names without line numbers: moving code around does not churn the catalogue.
            write_po(fh, catalog, width=120, sort_output=True, include_previous=False, include_lineno=False)
        log.info("updated %s (%d messages)", path, len(catalog))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gridwatch.i18n", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("update", "check"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.command == "update":
        update_catalogues()
        return 0
    marked = extract_messages()
    problems = [p for lang in TRANSLATED for p in catalogue_problems(lang, marked)]
    for p in problems:
        log.error("%s", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
