"""How many SMS segments a text takes, as the carrier bills and splits it.

A text of GSM-7 characters only travels 7 bits a character: 160 in one segment, 153 a segment once it
is split (the User Data Header takes the rest); the extension characters (`^ { } \\ [ ] ~ | €`) take
two. One character outside GSM-7 (an em dash, a curly quote, "ễ", an emoji) and Twilio sends the
whole text as UCS-2: 70 UTF-16 units in one segment, 67 a segment once split.
(https://www.twilio.com/docs/glossary/what-is-gsm-7-character-encoding,
https://www.twilio.com/docs/glossary/what-is-ucs-2-character-encoding,
https://www.twilio.com/docs/glossary/what-sms-character-limit)
"""

from __future__ import annotations

import math

# GSM 03.38's default alphabet and its extension table (each extension character is sent as two).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
    "abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")


def is_gsm7(text: str) -> bool:
    return all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)


def segments(text: str) -> int:
    """The number of segments `text` is sent in (0 for an empty text)."""
    if not text:
        return 0
    if is_gsm7(text):
        size, single, split = sum(2 if c in GSM7_EXTENSION else 1 for c in text), 160, 153
    else:
        size, single, split = len(text.encode("utf-16-le")) // 2, 70, 67
    return 1 if size <= single else math.ceil(size / split)
