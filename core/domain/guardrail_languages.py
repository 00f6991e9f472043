"""The guardrails' words in each language a draft may be written in (``core.domain.guardrails``).

English rules always apply (a French draft can still say "free shipping"); a draft in another
language is also checked against that language's offer words, unsubscribe wording and
greetings. Pure regular expressions, sandbox-safe.
"""

from __future__ import annotations

import re

_I = re.IGNORECASE

# Offers, prices and promises, as in the English list: only the configured offer may say them.
OFFER_WORDS = {
    "fr": re.compile(
        r"\b(?:gratuite?s?|offerte?s?|remises?|réductions?|soldes|rabais|promotions?|code promo|"
        r"bons? d'achat|garantie?s?|rembours\w*|cadeaux?)\b|\d+\s?(?:€|euros?)",
        _I,
    ),
    "de": re.compile(
        r"\b(?:kostenlos\w*|gratis|rabatt\w*|gutschein\w*|sonderangebot\w*|aktionscode|schnäppchen|"
        r"garantiert\w*|garantie|geld[- ]zurück|geschenk\w*|versandkostenfrei)\b|\d+\s?(?:€|euro)",
        _I,
    ),
    "es": re.compile(
        r"\b(?:gratis|gratuit[oa]s?|descuentos?|cupon(?:es)?|cupón|rebajas?|ofertas?|promoci(?:ón|ones)|"
        r"garantizad[oa]s?|garantía|reembolso\w*|regalos?)\b|\d+\s?(?:€|euros?)",
        _I,
    ),
    "ja": re.compile(
        r"無料|割引|値引|クーポン|セール|特価|[0-9\uff10-\uff19]+\s?[%\uff05円]|オフ|保証|返金|返品無料|特典|プレゼント"
    ),
}

# Unsubscribe wording: the footer is ours, in every language.
FOOTER_WORDS = {
    "fr": re.compile(r"désabonn\w*|désinscri\w*|se désinscrire|ne plus recevoir", _I),
    "de": re.compile(r"\babmeld\w*|abbestell\w*|austragen|nicht mehr erhalten", _I),
    "es": re.compile(
        r"dar(?:se|te)? de baja|date de baja|cancelar (?:la )?suscripci[oó]n|dejar de recibir", _I
    ),
    "ja": re.compile(r"配信停止|登録解除|購読解除|配信解除|メール停止"),
}

# A greeting that names someone: the named person must be this client (or nobody).
GREETINGS = {
    "fr": re.compile(r"^\s*(?:bonjour|salut|coucou|cher|chère|bonsoir)[ \t]+([^\W\d_][\w'\u2019-]*)", _I),
    "de": re.compile(
        r"^\s*(?:hallo|hi|liebe[rs]?|guten (?:tag|morgen|abend)|sehr geehrte[rs]?)"
        r"[ \t]+([^\W\d_][\w'\u2019-]*)",
        _I,
    ),
    "es": re.compile(
        r"^\s*(?:hola|querid[oa]|estimad[oa]|buen(?:os|as) (?:días|tardes))[ \t]+([^\W\d_][\w'\u2019-]*)", _I
    ),
    "ja": re.compile(r"^\s*(?:こんにちは[、,\s]*)?([^\s、,。!\uff01]+?)(?:さん|様)"),
}

# Who a generic greeting greets, in each language ("Bonjour à tous", "Hallo zusammen").
GENERIC = {
    "à",
    "tous",
    "toutes",
    "zusammen",
    "ihr",
    "a",
    "todos",
    "todas",
    "amigo",
    "amiga",
    "皆",
    "皆さん",
    "お客",
}


def language(locale: str | None) -> str:
    """``fr-CA`` -> ``fr``; anything else we have no words for -> ``en``."""
    code = (locale or "en").replace("_", "-").split("-")[0].lower()
    return code if code in OFFER_WORDS else "en"
