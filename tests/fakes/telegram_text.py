"""Telegram's text formatting, as the Bot API server applies it to what a bot sends.

The parsers follow TDLib's `parse_html`, `parse_markdown` and `parse_markdown_v2`
(td/telegram/MessageEntity.cpp) closely: they walk the UTF-8 bytes, so error messages carry
the same byte offsets Telegram reports, and entity offsets are counted in UTF-16 code units.
After parsing, `fix_text` does what TDLib's `fix_formatted_text` does to every message: control
characters become spaces, carriage returns and a few invisible characters disappear, and
leading and trailing spaces and newlines are trimmed. Limits (4096 / 1024 characters) apply to
the result and are counted in Unicode code points, as TDLib's `utf8_length` does.

Not modelled: TDLib's automatic detection of URLs, mentions and hashtags in what bots send (the
fake only reports entities the parse mode produced) and the splitting of overlapping entities
supplied explicitly through `entities`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024

_LT, _GT, _AMP, _SLASH, _EQ = ord("<"), ord(">"), ord("&"), ord("/"), ord("=")
_QUOT, _APOS, _DOT, _DASH = ord('"'), ord("'"), ord("."), ord("-")
_BACKSLASH, _NL, _CR, _BACKTICK = ord("\\"), ord("\n"), ord("\r"), ord("`")
_SPACES = frozenset(b" \t\r\n\x00\x0b\x0c")  # TDLib's is_space, NUL included
_HEX = frozenset(b"0123456789abcdefABCDEF")
_PAD = b"\x00\x00\x00\x00"  # TDLib reads past the end into the C string's NUL terminator

HTML_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "span",
        "pre",
        "code",
        "blockquote",
    }
)

# TDLib's MessageEntity::get_type_priority, used to order entities that share a span.
_PRIORITY = {
    "mention": 50,
    "hashtag": 50,
    "bot_command": 50,
    "url": 50,
    "email": 50,
    "cashtag": 50,
    "phone_number": 50,
    "bold": 90,
    "italic": 91,
    "code": 20,
    "pre": 11,
    "text_link": 49,
    "text_mention": 49,
    "underline": 92,
    "strikethrough": 93,
    "blockquote": 0,
    "expandable_blockquote": 0,
    "spoiler": 94,
    "custom_emoji": 99,
}
# Entities that carry hidden data survive covering only whitespace (TDLib is_hidden_data_entity).
_HIDDEN_DATA = frozenset({"text_link", "text_mention", "custom_emoji"})
# The names TDLib prints in "Can't find end of X entity" (MarkdownV2).
_TDLIB_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
    "blockquote": "BlockQuote",
}
_REMOVED_CODE_POINTS = frozenset({*range(0x2028, 0x202F), 0x0333, 0x033F, 0x030A})


class EntityParseError(ValueError):
    """The text could not be parsed; str(error) is what follows "can't parse entities: "."""


class UnsupportedParseMode(ValueError):
    """parse_mode is none of HTML, MarkdownV2, Markdown."""


@dataclass
class Entity:
    """A message entity while parsing: `argument` is the URL, language, user or emoji id."""

    type: str
    offset: int
    length: int
    argument: str = ""

    def to_json(self) -> dict[str, Any]:
        """The Bot API MessageEntity object, keys in Telegram's order."""
        entity: dict[str, Any] = {"offset": self.offset, "length": self.length, "type": self.type}
        if self.type == "text_link":
            entity["url"] = self.argument
        elif self.type == "pre" and self.argument:
            entity["language"] = self.argument
        elif self.type == "custom_emoji":
            entity["custom_emoji_id"] = self.argument
        elif self.type == "text_mention":
            entity["user"] = {"id": int(self.argument), "is_bot": False, "first_name": ""}
        return entity

    @classmethod
    def from_json(cls, data: Any) -> Entity | None:
        """An entity from a bot's explicit `entities` parameter, None if malformed."""
        if not isinstance(data, dict):
            return None
        kind, offset, length = data.get("type"), data.get("offset"), data.get("length")
        if not (isinstance(kind, str) and isinstance(offset, int) and isinstance(length, int)):
            return None
        if kind not in _PRIORITY or offset < 0 or length <= 0:
            return None
        argument = ""
        if kind == "text_link":
            argument = str(data.get("url", ""))
        elif kind == "pre":
            argument = str(data.get("language", "") or "")
        elif kind == "custom_emoji":
            argument = str(data.get("custom_emoji_id", ""))
        elif kind == "text_mention":
            user = data.get("user")
            if not isinstance(user, dict) or not isinstance(user.get("id"), int):
                return None
            argument = str(user["id"])
        return cls(kind, offset, length, argument)


@dataclass(frozen=True)
class FormattedText:
    """Text as the recipient sees it, with Bot API entity dicts."""

    text: str
    entities: list[dict[str, Any]]


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram entity offsets."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def format_text(
    text: str, parse_mode: str | None = None, entities: list[Any] | None = None
) -> FormattedText:
    """Parse `text` the way sendMessage does; explicit `entities` win over `parse_mode`.

    Raises EntityParseError or UnsupportedParseMode. An empty `text` in the result means
    Telegram would answer "message text is empty".
    """
    if entities:
        parsed = [e for e in (Entity.from_json(item) for item in entities) if e is not None]
        return fix_text(text, parsed)
    mode = (parse_mode or "").lower()
    if mode in ("", "none"):
        return fix_text(text, [])
    if mode == "html":
        plain, parsed = parse_html(text)
    elif mode == "markdownv2":
        plain, parsed = parse_markdown_v2(text)
    elif mode == "markdown":
        plain, parsed = parse_markdown(text)
    else:
        raise UnsupportedParseMode(parse_mode)
    return fix_text(plain, parsed)


# --- HTML -------------------------------------------------------------------------------------


@dataclass
class _OpenTag:
    tag: str
    argument: str
    offset: int
    out_pos: int
    expandable: bool


def _is_space(byte: int) -> bool:
    return byte in _SPACES


def _utf16_units(first_byte: int) -> int:
    """UTF-16 units of the character starting with `first_byte`; 0 for continuation bytes."""
    if first_byte & 0xC0 == 0x80:
        return 0
    return 2 if first_byte >= 0xF0 else 1


def _ascii_lower(raw: bytes) -> str:
    return raw.lower().decode("utf-8", "replace")


def _decode_html_entity(t: bytes, pos: int) -> tuple[int, int]:
    """(code point, position after the reference), or (0, pos) if `&` starts no entity."""
    end = pos + 1
    code = 0
    if t[pos + 1] == ord("#"):
        end += 1
        if t[pos + 2] == ord("x"):
            end += 1
            while t[end] in _HEX:
                code = code * 16 + int(chr(t[end]), 16)
                end += 1
        else:
            while 0x30 <= t[end] <= 0x39:
                code = code * 10 + t[end] - 0x30
                end += 1
        if code == 0 or code >= 0x10FFFF or end - pos >= 10:
            return 0, pos
    else:
        while chr(t[end]).isascii() and chr(t[end]).isalpha():
            end += 1
        code = {b"lt": 0x3C, b"gt": 0x3E, b"amp": 0x26, b"quot": 0x22}.get(t[pos + 1 : end], 0)
        if code == 0:
            return 0, pos
    if t[end] == ord(";"):
        end += 1
    return code, end


def _encode_code_point(code: int) -> bytes:
    return chr(code).encode("utf-8", "surrogatepass")


def parse_html(source: str) -> tuple[str, list[Entity]]:
    """Telegram's HTML parse mode. Raises EntityParseError with TDLib's wording."""
    raw = source.encode("utf-8", "surrogatepass")
    size = len(raw)
    t = raw + _PAD
    out = bytearray()
    entities: list[Entity] = []
    stack: list[_OpenTag] = []
    utf16 = 0
    made_surrogate = False
    i = 0
    while i < size:
        c = t[i]
        if c == _AMP:
            code, end = _decode_html_entity(t, i)
            if code:
                utf16 += 2 if code > 0xFFFF else 1
                made_surrogate |= 0xD800 <= code <= 0xDFFF
                out += _encode_code_point(code)
                i = end
                continue
        if c != _LT:
            utf16 += _utf16_units(c)
            out.append(c)
            i += 1
            continue

        begin = i
        i += 1
        if t[i] != _SLASH:
            while not _is_space(t[i]) and t[i] != _GT:
                i += 1
            if t[i] == 0:
                raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
            tag = _ascii_lower(t[begin + 1 : i])
            if tag not in HTML_TAGS:
                raise EntityParseError(f'Unsupported start tag "{tag}" at byte offset {begin}')
            argument, expandable, i = _parse_attributes(t, i, tag, begin)
            if tag == "span" and argument != "spoiler":
                raise EntityParseError(
                    f'Tag "span" must have class "tg-spoiler" at byte offset {begin}'
                )
            stack.append(_OpenTag(tag, argument, utf16, len(out), expandable))
            i += 1
            continue

        if not stack:
            raise EntityParseError(f"Unexpected end tag at byte offset {begin}")
        while not _is_space(t[i]) and t[i] != _GT:
            i += 1
        end_tag = _ascii_lower(t[begin + 2 : i])
        while _is_space(t[i]) and t[i] != 0:
            i += 1
        if t[i] != _GT:
            raise EntityParseError(f"Unclosed end tag at byte offset {begin}")
        top = stack[-1]
        if end_tag and end_tag != top.tag:
            raise EntityParseError(
                f'Unmatched end tag at byte offset {begin}, expected "</{top.tag}>", '
                f'found "</{end_tag}>"'
            )
        if utf16 > top.offset:
            _close_html_entity(top, utf16 - top.offset, bytes(out[top.out_pos :]), entities)
        stack.pop()
        i += 1

    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    for entity in entities:
        if entity.type == "code":
            entity.argument = ""
    text = out.decode("utf-8", "surrogatepass")
    if made_surrogate:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise EntityParseError(
                "Text contains invalid Unicode characters after decoding HTML entities, "
                "check for unmatched surrogate code units"
            ) from None
    return text, _sorted(entities)


def _parse_attributes(t: bytes, i: int, tag: str, begin: int) -> tuple[str, bool, int]:
    """Parse attributes up to the closing `>`; return (argument, expandable, index of `>`)."""
    argument = ""
    expandable = False
    while t[i] != _GT:
        while t[i] != 0 and _is_space(t[i]):
            i += 1
        if t[i] == _GT:
            break
        name_begin = i
        while not _is_space(t[i]) and t[i] != _EQ and t[i] != _GT:
            i += 1
        name = t[name_begin:i].decode("utf-8", "replace")
        if not name:
            raise EntityParseError(
                f'Empty attribute name in the tag "{tag}" at byte offset {begin}'
            )
        while t[i] != 0 and _is_space(t[i]):
            i += 1
        if t[i] != _EQ:
            if tag == "blockquote" and name.lower() == "expandable":
                expandable = True
                continue
            raise EntityParseError(
                "Expected equal sign in declaration of an attribute of the tag "
                f'"{tag}" at byte offset {begin}'
            )
        i += 1
        while t[i] != 0 and _is_space(t[i]):
            i += 1
        if t[i] == 0:
            raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
        if t[i] != _QUOT and t[i] != _APOS:
            token_begin = i
            while chr(t[i]).isascii() and (chr(t[i]).isalnum() or t[i] in (_DOT, _DASH)):
                i += 1
            value = _ascii_lower(t[token_begin:i])
            if not _is_space(t[i]) and t[i] != _GT:
                raise EntityParseError(f"Unexpected end of name token at byte offset {token_begin}")
        else:
            quote = t[i]
            i += 1
            value_bytes = bytearray()
            while t[i] != quote and t[i] != 0:
                if t[i] == _AMP:
                    code, end = _decode_html_entity(t, i)
                    if code:
                        value_bytes += _encode_code_point(code)
                        i = end
                        continue
                value_bytes.append(t[i])
                i += 1
            if t[i] == quote:
                i += 1
            value = value_bytes.decode("utf-8", "replace")
        if t[i] == 0:
            raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
        if tag == "a" and name == "href":
            argument = value
        elif tag == "code" and name == "class" and value.startswith("language-"):
            argument = value[len("language-") :]
        elif tag == "span" and name == "class" and value.startswith("tg-"):
            argument = value[len("tg-") :]
        elif tag == "tg-emoji" and name == "emoji-id":
            argument = value
    return argument, expandable, i


def _close_html_entity(top: _OpenTag, length: int, inner: bytes, entities: list[Entity]) -> None:
    tag, offset = top.tag, top.offset
    simple = {
        "i": "italic",
        "em": "italic",
        "b": "bold",
        "strong": "bold",
        "s": "strikethrough",
        "strike": "strikethrough",
        "del": "strikethrough",
        "u": "underline",
        "ins": "underline",
        "tg-spoiler": "spoiler",
        "span": "spoiler",
    }
    if tag in simple:
        entities.append(Entity(simple[tag], offset, length))
    elif tag == "tg-emoji":
        if not top.argument.isdigit() or int(top.argument) == 0:
            raise EntityParseError("Invalid custom emoji identifier specified")
        entities.append(Entity("custom_emoji", offset, length, top.argument))
    elif tag == "a":
        _add_link(top.argument or inner.decode("utf-8", "replace"), offset, length, entities)
    elif tag == "pre":
        last = entities[-1] if entities else None
        if last and last.type == "code" and (last.offset, last.length) == (offset, length):
            last.type = "pre"  # <pre><code class="language-x">: keeps the language
        else:
            entities.append(Entity("pre", offset, length))
    elif tag == "code":
        last = entities[-1] if entities else None
        same_span = last is not None and (last.offset, last.length) == (offset, length)
        if last and same_span and last.type == "pre" and top.argument:
            last.argument = top.argument
        else:
            entities.append(Entity("code", offset, length, top.argument))
    elif tag == "blockquote":
        kind = "expandable_blockquote" if top.expandable else "blockquote"
        entities.append(Entity(kind, offset, length))


def _add_link(url: str, offset: int, length: int, entities: list[Entity]) -> None:
    user_id = _link_user_id(url)
    if user_id is not None:
        entities.append(Entity("text_mention", offset, length, str(user_id)))
        return
    checked = checked_link(url)
    if checked:
        entities.append(Entity("text_link", offset, length, checked))


def _link_user_id(url: str) -> int | None:
    match = re.fullmatch(r"tg://user\?id=(\d+)", url.strip(), flags=re.IGNORECASE)
    return int(match.group(1)) if match else None


def checked_link(url: str) -> str:
    """The link Telegram keeps for a text link or URL button, "" if it rejects it."""
    url = url.strip()
    if not url or any(ch.isspace() for ch in url):
        return ""
    scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]*):", url)
    if scheme:
        name = scheme.group(1).lower()
        rest = url[len(name) + 1 :]
        if name in ("http", "https"):
            return url if re.match(r"//[^/?#\s]+", rest) else ""
        if name in ("tg", "ton", "tonsite"):
            return url if rest else ""
        # "localhost:8080/path" parses as scheme "localhost"; treat it as a bare host.
        if not rest[:1].isdigit():
            return ""
    if re.match(r"[^/?#\s]+(\.[^/?#\s]+|:\d+)", url):
        return "http://" + url
    return ""


# --- Markdown ---------------------------------------------------------------------------------


def parse_markdown(source: str) -> tuple[str, list[Entity]]:
    """Telegram's legacy Markdown parse mode (*bold*, _italic_, `code`, ```pre```, [a](url))."""
    raw = source.encode("utf-8", "surrogatepass")
    size = len(raw)
    t = raw + _PAD
    out = bytearray()
    entities: list[Entity] = []
    utf16 = 0
    markers = b"_*`["
    i = 0
    while i < size:
        c = t[i]
        if c == _BACKSLASH and t[i + 1] in markers:
            out.append(t[i + 1])
            utf16 += 1
            i += 2
            continue
        if c not in markers:
            utf16 += _utf16_units(c)
            out.append(c)
            i += 1
            continue

        begin = i
        end_char = ord("]") if c == ord("[") else c
        is_pre = False
        language = ""
        i += 1
        if c == _BACKTICK and t[i] == _BACKTICK and t[i + 1] == _BACKTICK:
            i += 2
            is_pre = True
            language_end = i
            while not _is_space(t[language_end]) and t[language_end] != _BACKTICK:
                language_end += 1
            if i != language_end and language_end < size and t[language_end] != _BACKTICK:
                language = t[i:language_end].decode("utf-8", "replace")
                i = language_end
            i = _skip_one_newline(t, i)
        entity_offset = utf16
        while i < size and (
            t[i] != end_char or (is_pre and not (t[i + 1] == _BACKTICK and t[i + 2] == _BACKTICK))
        ):
            utf16 += _utf16_units(t[i])
            out.append(t[i])
            i += 1
        if i == size:
            raise EntityParseError(f"Can't find end of the entity starting at byte offset {begin}")
        if entity_offset != utf16:
            length = utf16 - entity_offset
            if c == ord("_"):
                entities.append(Entity("italic", entity_offset, length))
            elif c == ord("*"):
                entities.append(Entity("bold", entity_offset, length))
            elif c == ord("["):
                if t[i + 1] != ord("("):
                    url = t[begin + 1 : i].decode("utf-8", "replace")
                else:
                    i += 2
                    url_start = i
                    while i < size and t[i] != ord(")"):
                        i += 1
                    url = t[url_start:i].decode("utf-8", "replace")
                _add_link(url, entity_offset, length, entities)
            elif is_pre:
                entities.append(Entity("pre", entity_offset, length, language))
            else:
                entities.append(Entity("code", entity_offset, length))
        if is_pre:
            i += 2
        i += 1
    return out.decode("utf-8", "surrogatepass"), _sorted(entities)


def _skip_one_newline(t: bytes, i: int) -> int:
    """Skip one line break (\\n, \\r, \\r\\n or \\n\\r) at the start of a pre block."""
    if t[i] in (_NL, _CR):
        if t[i + 1] in (_NL, _CR) and t[i] != t[i + 1]:
            return i + 2
        return i + 1
    return i


@dataclass
class _OpenMarkup:
    type: str
    argument: str
    offset: int
    byte_offset: int
    out_pos: int


_V2_RESERVED = frozenset(b"_*[]()~`>#+-=|{}.!\n")
_V2_RESERVED_IN_CODE = frozenset(b"`")


def _reserved(char: int) -> EntityParseError:
    return EntityParseError(
        f"Character '{chr(char)}' is reserved and must be escaped with the preceding '\\'"
    )


def _unclosed(entity: _OpenMarkup) -> EntityParseError:
    name = _TDLIB_NAMES[entity.type]
    if entity.type == "pre" and entity.argument:
        name = "PreCode"
    return EntityParseError(f"Can't find end of {name} entity at byte offset {entity.byte_offset}")


def _v2_closes(top: str, t: bytes, i: int) -> bool:
    c = t[i]
    return {
        "bold": c == ord("*"),
        "italic": c == ord("_") and t[i + 1] != ord("_"),
        "code": c == _BACKTICK,
        "pre": c == _BACKTICK and t[i + 1] == _BACKTICK and t[i + 2] == _BACKTICK,
        "text_link": c == ord("]"),
        "underline": c == ord("_") and t[i + 1] == ord("_"),
        "strikethrough": c == ord("~"),
        "spoiler": c == ord("|") and t[i + 1] == ord("|"),
        "custom_emoji": c == ord("]"),
        "blockquote": False,
    }[top]


def parse_markdown_v2(source: str) -> tuple[str, list[Entity]]:
    """Telegram's MarkdownV2 parse mode, reserved characters and all."""
    raw = source.encode("utf-8", "surrogatepass")
    size = len(raw)
    t = raw + _PAD
    out = bytearray()
    entities: list[Entity] = []
    stack: list[_OpenMarkup] = []
    have_blockquote = False
    utf16 = 0
    i = 0
    while i < size:
        c = t[i]
        if c == _BACKSLASH and 0 < t[i + 1] <= 126:
            out.append(t[i + 1])
            utf16 += 1
            i += 2
            continue
        in_code = bool(stack) and stack[-1].type in ("code", "pre")
        if c not in (_V2_RESERVED_IN_CODE if in_code else _V2_RESERVED):
            utf16 += _utf16_units(c)
            out.append(c)
            i += 1
            continue

        is_end = False
        if stack:
            ends_quote = have_blockquote and c == _NL and (i + 1 == size or t[i + 1] != _GT)
            is_end = ends_quote or _v2_closes(stack[-1].type, t, i)

        if not is_end:
            kind: str | None
            argument = ""
            byte_offset = i
            if c == ord("_"):
                kind = "italic"
                if t[i + 1] == ord("_"):
                    kind = "underline"
                    i += 1
            elif c == ord("*"):
                kind = "bold"
            elif c == ord("~"):
                kind = "strikethrough"
            elif c == ord("|"):
                if t[i + 1] != ord("|"):
                    raise _reserved(c)
                kind = "spoiler"
                i += 1
            elif c == ord("["):
                kind = "text_link"
            elif c == _BACKTICK:
                kind = "code"
                if t[i + 1] == _BACKTICK and t[i + 2] == _BACKTICK:
                    kind = "pre"
                    i += 3
                    language_end = i
                    while not _is_space(t[language_end]) and t[language_end] != _BACKTICK:
                        language_end += 1
                    if i != language_end and language_end < size and t[language_end] != _BACKTICK:
                        argument = t[i:language_end].decode("utf-8", "replace")
                        i = language_end
                    i = _skip_one_newline(t, i) - 1
            elif c == ord("!"):
                if t[i + 1] != ord("["):
                    raise _reserved(c)
                kind = "custom_emoji"
                i += 1
            elif c == _NL:
                utf16 += 1
                out.append(_NL)
                kind = None
                if i + 1 < size and t[i + 1] == _GT:
                    i += 1
                    if not have_blockquote:
                        kind = "blockquote"
                        have_blockquote = True
            elif c == _GT and i == 0:
                kind = "blockquote"
                have_blockquote = True
            else:
                raise _reserved(c)
            if kind is not None:
                stack.append(_OpenMarkup(kind, argument, utf16, byte_offset, len(out)))
            i += 1
            continue

        top = stack[-1]
        if c == _NL and top.type != "blockquote":
            raise _unclosed(top)
        argument = top.argument
        skip = utf16 == top.offset
        kind = top.type
        if kind in ("underline", "spoiler"):
            i += 1
        elif kind == "pre":
            i += 2
        elif kind == "text_link":
            if t[i + 1] != ord("("):
                url = out[top.out_pos :].decode("utf-8", "replace")
            else:
                url, i = _v2_url(t, i + 2, size, "a URL")
            user_id = _link_user_id(url)
            if user_id is not None:
                kind, argument = "text_mention", str(user_id)
            else:
                argument = checked_link(url)
                skip = skip or not argument
        elif kind == "custom_emoji":
            if t[i + 1] != ord("("):
                raise EntityParseError("Custom emoji entity must contain a tg://emoji URL")
            url, i = _v2_url(t, i + 2, size, "a custom emoji URL")
            match = re.fullmatch(r"tg://emoji\?id=(\d+)", url)
            if not match or int(match.group(1)) == 0:
                raise EntityParseError("Invalid custom emoji identifier specified")
            argument = match.group(1)
        elif kind == "blockquote":
            have_blockquote = False
            out.append(t[i])
            utf16 += 1
        if not skip:
            entities.append(Entity(kind, top.offset, utf16 - top.offset, argument))
        stack.pop()
        i += 1

    if have_blockquote and stack and stack[-1].type == "blockquote":
        top = stack.pop()
        if utf16 != top.offset:
            entities.append(Entity("blockquote", top.offset, utf16 - top.offset))
    if stack:
        raise _unclosed(stack[-1])
    return out.decode("utf-8", "surrogatepass"), _sorted(entities)


def _v2_url(t: bytes, i: int, size: int, what: str) -> tuple[str, int]:
    """Read a `(url)` body starting at i; return (url, index of the closing parenthesis)."""
    begin = i
    url = bytearray()
    while i < size and t[i] != ord(")"):
        if t[i] == _BACKSLASH and 0 < t[i + 1] <= 126:
            url.append(t[i + 1])
            i += 2
            continue
        url.append(t[i])
        i += 1
    if t[i] != ord(")"):
        raise EntityParseError(f"Can't find end of {what} at byte offset {begin}")
    return url.decode("utf-8", "replace"), i


# --- cleaning and trimming --------------------------------------------------------------------


def _sorted(entities: list[Entity]) -> list[Entity]:
    return sorted(entities, key=lambda e: (e.offset, -e.length, _PRIORITY.get(e.type, 50)))


def fix_text(text: str, entities: list[Entity]) -> FormattedText:
    """Clean and trim like TDLib's fix_formatted_text; entities follow the text."""
    # Clean: control characters become spaces; \r and invisible separators disappear.
    chars: list[str] = []
    new_offset_of: list[int] = []  # indexed by old UTF-16 offset
    new = 0
    for ch in text:
        code = ord(ch)
        width = 2 if code > 0xFFFF else 1
        new_offset_of.extend([new] * width)
        if code == 0x0D or code in _REMOVED_CODE_POINTS:
            continue
        chars.append(" " if code < 32 and code != 10 else ch)
        new += width
    new_offset_of.append(new)
    limit = len(new_offset_of) - 1
    moved: list[Entity] = []
    for entity in entities:
        start = new_offset_of[min(entity.offset, limit)]
        end = new_offset_of[min(entity.offset + entity.length, limit)]
        if end > start:
            moved.append(Entity(entity.type, start, end - start, entity.argument))
    cleaned = "".join(chars)

    # Trim spaces and newlines at both ends.
    stripped = cleaned.strip(" \n")
    if not stripped:
        return FormattedText("", [])
    lead = len(cleaned) - len(cleaned.lstrip(" \n"))
    start16 = utf16_len(cleaned[:lead])
    end16 = start16 + utf16_len(stripped)

    index_of = _utf16_index(cleaned)
    kept: list[Entity] = []
    for entity in moved:
        begin, finish = entity.offset, entity.offset + entity.length
        if entity.type not in _HIDDEN_DATA:
            while begin < finish and cleaned[index_of[begin]] in " \n":
                begin += 1
            if not cleaned[index_of[begin] : index_of[finish]].strip(" \n"):
                continue
        begin, finish = max(begin, start16), min(finish, end16)
        if finish > begin:
            kept.append(Entity(entity.type, begin - start16, finish - begin, entity.argument))
    return FormattedText(stripped, [e.to_json() for e in _sorted(kept)])


def _utf16_index(text: str) -> dict[int, int]:
    """Map each UTF-16 offset at a character boundary (and the end) to a string index."""
    index: dict[int, int] = {}
    offset = 0
    for position, ch in enumerate(text):
        index[offset] = position
        if ord(ch) > 0xFFFF:
            index[offset + 1] = position  # inside a surrogate pair: round down
            offset += 2
        else:
            offset += 1
    index[offset] = len(text)
    return index


# --- entities Telegram detects in what users type ---------------------------------------------

_DETECTORS = (
    (
        "bot_command",
        re.compile(r"(?<![\w/<>])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/<>])"),
    ),
    ("url", re.compile(r"(?<![\w@])https?://[^\s<>\"]*[^\s<>\".,;:!?)\]'」。、]")),
    ("mention", re.compile(r"(?<![\w@/])@[A-Za-z0-9_]{5,32}(?![\w@])")),
    ("hashtag", re.compile(r"(?<![\w#])#\w*[^\W\d_]\w*")),
)


def detect_entities(text: str) -> list[dict[str, Any]]:
    """Entities Telegram adds to a user's message: bot commands, URLs, mentions, hashtags."""
    found: list[tuple[int, int, str]] = []
    for kind, pattern in _DETECTORS:
        for match in pattern.finditer(text):
            found.append((match.start(), match.end(), kind))
    found.sort()
    entities: list[dict[str, Any]] = []
    covered_until = 0
    for start, end, kind in found:
        if start < covered_until:
            continue
        covered_until = end
        offset = utf16_len(text[:start])
        entities.append({"offset": offset, "length": utf16_len(text[start:end]), "type": kind})
    return entities
