"""The alert search language, parsed into an AST. Pure: no database, no Flask.

    query   := or
    or      := and (OR and)*
    and     := unary ([AND] unary)*          adjacent terms are joined by AND
    unary   := NOT unary | primary
    primary := '(' query ')' | field ':' group | field op value | value
    group   := value | '(' query-of-values ')'   e.g. message: (disk OR memory)
    op      := '<' | '<=' | '>' | '>='

Values are bare words or double-quoted strings (backslash escapes ``\\"`` and ``\\\\``).
``AND``/``OR``/``NOT`` are keywords in any letter case; quote them to search for the word.
Every error carries the 0-based character position where the query went wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_QUERY_LENGTH = 4000
MAX_DEPTH = 32
# Each term is a condition the database evaluates on every candidate row: a few dozen serve any
# real search, and hundreds only make one caller's query expensive for everyone.
MAX_TERMS = 100


class QueryError(ValueError):
    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} at position {position}")
        self.message = message
        self.position = position


@dataclass(frozen=True, slots=True)
class Term:
    """``field op value``; ``field`` is ``None`` for a bare word (free text)."""

    field: str | None
    op: str  # ":" | "<" | "<=" | ">" | ">="
    value: str
    position: int
    value_position: int


@dataclass(frozen=True, slots=True)
class Not:
    node: Node


@dataclass(frozen=True, slots=True)
class And:
    nodes: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    nodes: tuple[Node, ...]


Node = Term | Not | And | Or


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # WORD, STRING, LPAREN, RPAREN, COLON, OP, AND, OR, NOT, EOF
    text: str
    position: int


_SPECIAL = set('():<>"')
_KEYWORDS = {"and": "AND", "or": "OR", "not": "NOT"}


def tokenize(query: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        if ch.isspace():
            i += 1
        elif ch == "(":
            tokens.append(Token("LPAREN", ch, i))
            i += 1
        elif ch == ")":
            tokens.append(Token("RPAREN", ch, i))
            i += 1
        elif ch == ":":
            tokens.append(Token("COLON", ch, i))
            i += 1
        elif ch in "<>":
            op = query[i : i + 2] if query[i + 1 : i + 2] == "=" else ch
            tokens.append(Token("OP", op, i))
            i += len(op)
        elif ch == '"':
            start = i
            i += 1
            chars: list[str] = []
            while True:
                if i >= n:
                    raise QueryError("unterminated quoted string", start)
                if query[i] == "\\" and i + 1 < n:
                    chars.append(query[i + 1])
                    i += 2
                elif query[i] == '"':
                    i += 1
                    break
                else:
                    chars.append(query[i])
                    i += 1
            tokens.append(Token("STRING", "".join(chars), start))
        else:
            start = i
            while i < n and not query[i].isspace() and query[i] not in _SPECIAL:
                i += 1
            word = query[start:i]
            keyword = _KEYWORDS.get(word.lower())
            tokens.append(Token(keyword or "WORD", word, start))
    tokens.append(Token("EOF", "", n))
    return tokens


class _Parser:
    def __init__(self, query: str) -> None:
        self.tokens = tokenize(query)
        self.i = 0
        self.depth = 0
        self.terms = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def expect(self, kind: str, what: str) -> Token:
        if self.tok.kind != kind:
            raise QueryError(f"expected {what}, found {_describe(self.tok)}", self.tok.position)
        return self.take()

    def parse(self) -> Node:
        node = self.or_(None)
        if self.tok.kind != "EOF":
            raise QueryError(f"unexpected {_describe(self.tok)}", self.tok.position)
        return node

    def or_(self, field: Token | None) -> Node:
        nodes = [self.and_(field)]
        while self.tok.kind == "OR":
            self.take()
            nodes.append(self.and_(field))
        return nodes[0] if len(nodes) == 1 else Or(tuple(nodes))

    def and_(self, field: Token | None) -> Node:
        nodes = [self.unary(field)]
        while self.tok.kind in ("AND", "NOT", "WORD", "STRING", "LPAREN"):
            if self.tok.kind == "AND":
                self.take()
            nodes.append(self.unary(field))
        return nodes[0] if len(nodes) == 1 else And(tuple(nodes))

    def unary(self, field: Token | None) -> Node:
        # A loop, not recursion: "NOT NOT … x" of any length costs nothing and cancels in pairs.
        negations = 0
        while self.tok.kind == "NOT":
            self.take()
            negations += 1
        node = self.primary(field)
        return Not(node) if negations % 2 else node

    def primary(self, field: Token | None) -> Node:
        tok = self.tok
        if tok.kind == "LPAREN":
            self.take()
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise QueryError("too many nested parentheses", tok.position)
            node = self.or_(field)
            self.expect("RPAREN", "')'")
            self.depth -= 1
            return node
        if tok.kind not in ("WORD", "STRING"):
            raise QueryError(f"expected a term, found {_describe(tok)}", tok.position)
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise QueryError(f"a query may hold at most {MAX_TERMS} terms", tok.position)
        self.take()
        if field is not None:
            # Inside "field: ( … )" every value belongs to that field.
            return Term(field.text, ":", tok.text, field.position, tok.position)
        if tok.kind == "WORD" and self.tok.kind == "COLON":
            self.take()
            if self.tok.kind == "LPAREN":
                return self.primary(tok)
            value = self._value()
            return Term(tok.text, ":", value.text, tok.position, value.position)
        if tok.kind == "WORD" and self.tok.kind == "OP":
            op = self.take()
            value = self._value()
            return Term(tok.text, op.text, value.text, tok.position, value.position)
        return Term(None, ":", tok.text, tok.position, tok.position)

    def _value(self) -> Token:
        if self.tok.kind not in ("WORD", "STRING"):
            raise QueryError(f"expected a value, found {_describe(self.tok)}", self.tok.position)
        first = self.take()
        if first.kind == "STRING":
            return first
        # Glue "a:b:c" written without spaces back together, so unquoted ISO times
        # (createdAt > 2024-01-05T07:06:47Z) and aliases like host:port work as values.
        text, end = first.text, first.position + len(first.text)
        while (
            self.tok.kind == "COLON"
            and self.tok.position == end
            and self.tokens[self.i + 1].kind == "WORD"
            and self.tokens[self.i + 1].position == end + 1
        ):
            self.take()
            word = self.take()
            text += ":" + word.text
            end = word.position + len(word.text)
        return Token("WORD", text, first.position)


def _describe(tok: Token) -> str:
    return "the end of the query" if tok.kind == "EOF" else f"{tok.text!r}"


def parse_query(query: str) -> Node | None:
    """Parse a query; ``None`` for an empty one.

    :raises QueryError: with the position of the first problem.
    """
    if len(query) > MAX_QUERY_LENGTH:
        raise QueryError(f"query is longer than {MAX_QUERY_LENGTH} characters", MAX_QUERY_LENGTH)
    if not query.strip():
        return None
    return _Parser(query).parse()
