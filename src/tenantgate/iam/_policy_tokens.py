"""Tokenizer for policy documents: words, quoted strings, /patterns/ and punctuation.

Every token keeps its line and column so that parse errors can point at the exact spot.
``#`` starts a comment that runs to the end of the line (OCI has no comments; documents
kept in files and the console need them).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from tenantgate.errors import PolicySyntaxError


class TokenKind(enum.Enum):
    """What a token is; keywords are plain words, recognised by the parser."""

    WORD = "word"
    STRING = "string"
    PATTERN = "pattern"
    OPERATOR = "operator"
    PUNCT = "punct"
    END = "end"


@dataclass(frozen=True, slots=True)
class Token:
    """One token with its 1-based position and its span in the source."""

    kind: TokenKind
    text: str
    line: int
    column: int
    start: int
    end: int

    def describe(self) -> str:
        """How an error message names this token."""
        if self.kind is TokenKind.END:
            return "end of policy"
        if self.kind is TokenKind.STRING:
            return f"string {self.text}"
        return f"'{self.text}'"


_SCANNER = re.compile(
    r"""
    (?P<space>[ \t\r\n]+)
  | (?P<comment>\#[^\n]*)
  | (?P<string>'[^'\n]*')
  | (?P<pattern>/[^/\n]*/)
  | (?P<operator>!=|=)
  | (?P<punct>[(){},:])
  | (?P<word>[A-Za-z0-9_.\-@+]+)
    """,
    re.VERBOSE,
)
_KINDS = {
    "string": TokenKind.STRING,
    "pattern": TokenKind.PATTERN,
    "operator": TokenKind.OPERATOR,
    "punct": TokenKind.PUNCT,
    "word": TokenKind.WORD,
}


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``, ending with an END token; raises PolicySyntaxError."""
    tokens: list[Token] = []
    line, line_start, pos = 1, 0, 0
    while pos < len(text):
        match = _SCANNER.match(text, pos)
        column = pos - line_start + 1
        if match is None:
            raise PolicySyntaxError(_bad_character(text[pos]), line=line, column=column)
        group = match.lastgroup or ""
        if group in _KINDS:
            tokens.append(Token(_KINDS[group], match.group(), line, column, pos, match.end()))
        newlines = match.group().count("\n")
        if newlines:
            line += newlines
            line_start = match.start() + match.group().rindex("\n") + 1
        pos = match.end()
    tokens.append(Token(TokenKind.END, "", line, pos - line_start + 1, pos, pos))
    return tokens


def _bad_character(char: str) -> str:
    """Why the scanner stopped at ``char``."""
    if char == "'":
        return "unterminated string: a quoted value must close on the same line"
    if char == "/":
        return "unterminated pattern: a /pattern/ must close on the same line"
    return f"unexpected character {char!r}"
