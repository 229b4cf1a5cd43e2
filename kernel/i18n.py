"""Languages: zh-CN and English, chosen from Accept-Language (or an explicit `lang`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"  # the first market

Catalog = Mapping[str, Mapping[str, str]]  # message id -> {language: text}


def negotiate(accept_language: str | None, explicit: str | None = None) -> str:
    """Pick zh-CN or en: an explicit choice wins, then the header's order and q-values."""
    if explicit in LANGUAGES:
        return explicit
    if not accept_language:
        return DEFAULT_LANGUAGE
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept_language.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, index, tag.strip().lower()))
    for negative_quality, _i, tag in sorted(ranked):
        if negative_quality >= 0:
            break  # q=0 means "not acceptable"
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return DEFAULT_LANGUAGE


def translator(catalog: Catalog, language: str) -> Callable[..., str]:
    """A `_()` for templates: `_("welcome", name=...)` with str.format placeholders."""

    def translate(message_id: str, **values: object) -> str:
        entry = catalog.get(message_id)
        text = entry.get(language) or entry.get("en", message_id) if entry else message_id
        return text.format(**values) if values else text

    return translate
