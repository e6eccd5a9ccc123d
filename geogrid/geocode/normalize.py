"""Address normalisation: one canonical spelling for the many ways people write one.

The same function normalises the addresses and the names of the gazetteer, so
any rewrite it makes is applied to both sides and can never stop a name from
matching itself. It is idempotent: ``normalize(normalize(s)) == normalize(s)``.

Steps, in order:

1. Unicode NFKC: full-width letters, digits and punctuation become half-width;
   the ideographic space becomes a space. ASCII letters are upper-cased.
2. Traditional characters become simplified (OpenCC ``t2s``), only for strings
   that hold at least one character the conversion table knows.
3. A leading label (地址:, 住址:, 户籍地址:, ...) is dropped, then spaces and
   punctuation; a space between two numbers becomes a dash, ``#`` becomes 号
   (``3#楼`` is ``3号楼``).
4. Chinese numerals in front of a counter (组, 号, 幢, 栋, 单元, 室, 层, 楼, 弄,
   队) become Arabic numerals: ``第三组`` is ``3组``, ``十二号`` is ``12号``;
   leading zeros go (``03组`` is ``3组``). Numerals inside names (三星村) stay.
5. The many forms of one unit collapse into one: 村委会, 村委, 村民委员会 become
   村; 社区居委会, 社区居民委员会, 居委会, 居民委员会, 居委 become 社区;
   街道办事处 becomes 街道; 村民小组, 小组, 生产队 and 队 after a number become 组.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from opencc import OpenCC
from pypinyin import Style, lazy_pinyin

MAX_ADDRESS_CHARS = 200
"""Longest address (in characters, after trimming) that the geocoder reads."""

CJK = "\u3007\u3400-\u4dbf\u4e00-\u9fff"
"""Character class (for regular expressions) of the Chinese characters kept."""

_COUNTERS = "组|号|幢|栋|单元|室|层|楼|弄|队|村民小组|小组|生产队"
_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_MULTIPLIERS = {"十": 10, "百": 100, "千": 1000}
_CN_NUMERAL = "".join(_CN_DIGITS) + "".join(_CN_MULTIPLIERS)

_UNIT_FORMS = {
    "社区居民委员会": "社区",
    "社区居委会": "社区",
    "社区居委": "社区",
    "居民委员会": "社区",
    "居委会": "社区",
    "居委": "社区",
    "村民委员会": "村",
    "村委会": "村",
    "村委": "村",
    "街道办事处": "街道",
    "街道办": "街道",
}

_LABEL = re.compile(
    r"^\s*(?:户籍|家庭|现|居住|联系|通讯|常住|经营|工作|收货|送货)?"
    r"(?:住址|地址|住所|所在地)\s*:?\s*"
)
_DASHES = re.compile(r"[‐‑‒–—―~〜]")
_SPACE_BETWEEN_NUMBERS = re.compile(r"(?<=\d)\s+(?=\d)")
_DROPPED = re.compile(rf"[^0-9A-Z{CJK}#-]+")
_LOOSE_DASH = re.compile(r"(?<!\d)-+|-+(?!\d)")
_CN_NUMBER = re.compile(rf"([{_CN_NUMERAL}]+)(?={_COUNTERS})")
_ORDINAL = re.compile(rf"第(?=\d+(?:{_COUNTERS}))")
_LEADING_ZEROS = re.compile(rf"(?<!\d)0+(?=\d+(?:{_COUNTERS}))")
_UNIT_FORM = re.compile("|".join(sorted(_UNIT_FORMS, key=len, reverse=True)))
_GROUP_FORM = re.compile(r"(\d+)(?:村民小组|小组|生产队|队)")
_HAS_CJK = re.compile(f"[{CJK}]")


def normalize(address: str) -> str:
    """Canonical spelling of an address or of a place name.

    Parameters
    ----------
    address
        Text as a person typed it.

    Returns
    -------
    str
        The text with one spelling per character, numeral and unit form, and
        without spaces or punctuation.

    Examples
    --------
    >>> normalize("溫嶺市 箬橫鎮 團結村民委員會 第三組 十二號")
    '温岭市箬横镇团结村3组12号'
    """
    text = unicodedata.normalize("NFKC", address).upper()
    if _may_be_traditional(text):
        text = _t2s().convert(text)
    if "址" in text or "住所" in text or "所在地" in text:
        text = _LABEL.sub("", text)

    # punctuation and spaces
    if not text.isalnum():
        text = _DASHES.sub("-", text)
        text = _SPACE_BETWEEN_NUMBERS.sub("-", text)
        text = _DROPPED.sub("", text).replace("#", "号")
        if "-" in text:
            text = _LOOSE_DASH.sub("", text)

    # numerals in front of counters
    if _CN_NUMBER.search(text):
        text = _CN_NUMBER.sub(_arabic_match, text)
    if "第" in text:
        text = _ORDINAL.sub("", text)
    if "0" in text:
        text = _LEADING_ZEROS.sub("", text)

    # forms of the same unit
    if "委" in text or "办" in text:
        text = _UNIT_FORM.sub(lambda m: _UNIT_FORMS[m.group()], text)
    if "队" in text or "小组" in text:
        text = _GROUP_FORM.sub(r"\1组", text)
    return text


def has_chinese(text: str) -> bool:
    """Whether the text holds at least one Chinese character."""
    return _HAS_CJK.search(text) is not None


def sound_key(text: str) -> str:
    """How a name sounds, blind to tones and to sounds often confused.

    Pinyin without tones, with zh, ch, sh read as z, c, s, n read as l, and a
    final -ng read as -n. Two names with the same key are near-homophones,
    the usual result of a typing slip with a pinyin input method.

    Parameters
    ----------
    text
        Chinese characters; anything else is ignored.
    """
    syllables = lazy_pinyin(text, style=Style.NORMAL, errors="ignore")
    return " ".join(_loose_syllable(s) for s in syllables)


def _loose_syllable(syllable: str) -> str:
    if syllable[:2] in ("zh", "ch", "sh"):
        syllable = syllable[0] + syllable[2:]
    if syllable.startswith("n"):
        syllable = "l" + syllable[1:]
    if syllable.endswith("ng") and len(syllable) > 2:
        syllable = syllable[:-1]
    return syllable


def chinese_to_int(numeral: str) -> int | None:
    """Value of a Chinese numeral, or None when it is not one.

    Reads both the positional form (三〇五 is 305) and the spoken form
    (一百零五 is 105, 十二 is 12, 二十 is 20).

    Parameters
    ----------
    numeral
        The characters of the numeral, nothing else.
    """
    if not numeral or any(c not in _CN_NUMERAL for c in numeral):
        return None
    if all(c in _CN_DIGITS for c in numeral):
        return int("".join(str(_CN_DIGITS[c]) for c in numeral))

    total, current = 0, 0
    for char in numeral:
        if char in _CN_DIGITS:
            current = _CN_DIGITS[char]
        else:
            total += (current or 1) * _CN_MULTIPLIERS[char]
            current = 0
    return total + current


def arabic_numerals(text: str) -> str:
    """Text with every run of Chinese numerals written in Arabic digits.

    Used for the aliases of names such as 南塘一村 (also written 南塘1村).
    """
    return re.sub(f"[{_CN_NUMERAL}]+", _arabic_run, text)


def _arabic_run(match: re.Match[str]) -> str:
    value = chinese_to_int(match.group())
    return match.group() if value is None else str(value)


def _arabic_match(match: re.Match[str]) -> str:
    value = chinese_to_int(match.group(1))
    return match.group() if value is None else str(value)


def _may_be_traditional(text: str) -> bool:
    """Whether the text holds a character the t2s table rewrites.

    Text that GB 2312 can encode holds simplified characters only, except for
    a handful that the table still rewrites; that test runs in C, the full
    test only for the rest.
    """
    try:
        text.encode("gb2312")
    except UnicodeEncodeError:
        return not _traditional_chars().isdisjoint(text)
    return _traditional_in_gb2312().search(text) is not None


@functools.cache
def _traditional_in_gb2312() -> re.Pattern[str]:
    chars = [c for c in _traditional_chars() if c.encode("gb2312", "ignore")]
    return re.compile(f"[{re.escape(''.join(sorted(chars)))}]")


@functools.cache
def _t2s() -> OpenCC:
    return OpenCC("t2s")


@functools.cache
def _traditional_chars() -> frozenset[str]:
    """Characters that the traditional-to-simplified table rewrites."""
    converter = _t2s()
    converter.convert("")
    chars: set[str] = set()
    for _, _, mapping in converter.dict_cache.values():
        chars.update(k for k, v in mapping.items() if len(k) == 1 and v != k)
    return frozenset(chars)
