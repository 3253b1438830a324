"""The Dockerfile's word lexer (moby's shell.Lex): quotes, the escape character and
$VAR / ${VAR} / ${VAR:-word} / ${VAR:+word} / ${VAR:?msg} substitution, for the
instructions that expand variables (FROM, COPY, ADD, ENV, ARG, LABEL, EXPOSE, USER,
WORKDIR, VOLUME, STOPSIGNAL) and for `commit --change` / `import --change`."""
from __future__ import annotations

from ...errors import InvalidParameter

_NAME_START = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
_NAME_CHARS = _NAME_START + "0123456789"


class _Lexer:
    """One pass over `text`; `split` makes unquoted whitespace separate words."""

    def __init__(self, text: str, env: dict[str, str], escape: str, split: bool) -> None:
        self.text, self.env, self.escape, self.split = text, env, escape, split
        self.pos = 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def take(self) -> str:
        ch = self.peek()
        self.pos += 1
        return ch

    def words(self, stop: str = "") -> list[str]:
        """Words up to the end (or an unquoted, unescaped `stop` character)."""
        words: list[str] = []
        current: list[str] = []
        in_word = False
        while self.pos < len(self.text):
            ch = self.peek()
            if stop and ch == stop:
                break
            if self.split and ch in " \t\r\n":
                self.pos += 1
                if in_word:
                    words.append("".join(current))
                    current, in_word = [], False
                continue
            in_word = True
            if ch == "'":
                self.pos += 1
                current.append(self.single_quoted())
            elif ch == '"':
                self.pos += 1
                current.append(self.double_quoted())
            elif ch == "$":
                self.pos += 1
                current.append(self.variable())
            elif ch == self.escape:
                self.pos += 1
                if self.pos < len(self.text):
                    current.append(self.take())
                else:
                    current.append(ch)
            else:
                current.append(self.take())
        if in_word:
            words.append("".join(current))
        return words

    def single_quoted(self) -> str:
        end = self.text.find("'", self.pos)
        if end < 0:
            raise InvalidParameter("unexpected end of statement while looking for matching "
                                   "single-quote")
        value = self.text[self.pos:end]
        self.pos = end + 1
        return value

    def double_quoted(self) -> str:
        out: list[str] = []
        while True:
            if self.pos >= len(self.text):
                raise InvalidParameter("unexpected end of statement while looking for "
                                       "matching double-quote")
            ch = self.take()
            if ch == '"':
                return "".join(out)
            if ch == "$":
                out.append(self.variable())
            elif ch == self.escape and self.peek() in ('"', "$", self.escape) and self.peek():
                out.append(self.take())
            else:
                out.append(ch)

    def name(self) -> str:
        start = self.pos
        if self.peek() and self.peek() in _NAME_START:
            self.pos += 1
            while self.peek() and self.peek() in _NAME_CHARS:
                self.pos += 1
        return self.text[start:self.pos]

    def variable(self) -> str:
        """After a `$`: the value of $NAME or ${NAME[modifier]}; a lone `$` stays."""
        if self.peek() != "{":
            name = self.name()
            return self.env.get(name, "") if name else "$"
        self.pos += 1
        name = self.name()
        if not name:
            raise InvalidParameter(f"missing ':' in substitution: {self.text}"
                                   if self.peek() != "}" else f"bad substitution: {self.text}")
        ch = self.take()
        if ch == "}":
            return self.env.get(name, "")
        colon = ch == ":"
        if colon:
            ch = self.take()
        if ch not in "-+?" or not ch:
            raise InvalidParameter(f"unsupported modifier ({ch}) in substitution: "
                                   f"{self.text}")
        inner = _Lexer(self.text, self.env, self.escape, False)
        inner.pos = self.pos
        word = "".join(inner.words(stop="}"))
        if inner.peek() != "}":
            raise InvalidParameter(f"syntax error: missing '}}' in {self.text}")
        self.pos = inner.pos + 1
        set_ = name in self.env and (not colon or self.env[name] != "")
        if ch == "-":
            return self.env[name] if set_ else word
        if ch == "+":
            return word if set_ else ""
        if not set_:
            raise InvalidParameter(f"{name}: {word or 'is not allowed to be unset'}")
        return self.env[name]


def words(text: str, env: dict[str, str], escape: str = "\\") -> list[str]:
    """`text` split into words with quotes, escapes and variables processed."""
    return _Lexer(text, env, escape, True).words()


def word(text: str, env: dict[str, str], escape: str = "\\") -> str:
    """`text` as one word: quotes, escapes and variables processed, spaces kept."""
    return "".join(_Lexer(text, env, escape, False).words())


def env_map(env_list: list[str] | None) -> dict[str, str]:
    """A config's Env list ("K=V") as a mapping; later entries win."""
    out: dict[str, str] = {}
    for item in env_list or []:
        key, _, value = item.partition("=")
        out[key] = value
    return out
