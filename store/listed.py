"""`column IN (a list given when the statement runs)`, written once for both databases.

SQLAlchemy's expanding IN renders one placeholder per item, so the SQL differs with the
list's length. On PostgreSQL each text is a statement of its own to asyncpg's cache and
to the server, and the server plans a new prepared statement afresh for its first five
runs on each connection (1-1.5 ms for a statement that runs in 0.3): a worker's towns
within reach, 5 to 10 of them, made one statement six. There it is `column = ANY($n)`
with the list as one array parameter: one text, whatever the length. The array goes as
its text form ("{3,5,8}") cast by the server: asyncpg looks up an int[] parameter's type
in the server's catalogue once on every new connection (a recursive query the server
plans and runs in ~12 ms of its CPU), a text one it knows. SQLite has no arrays and
keeps the expanding IN (it compiles a statement in microseconds)."""

from __future__ import annotations

from sqlalchemy import Boolean, ColumnElement, Integer, String, any_, bindparam, cast
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import TypeDecorator


class InListed(ColumnElement[bool]):
    """`column` is one of the integers of the list parameter `name`."""

    type = Boolean()
    _is_implicitly_boolean = True  # a comparison: SQLite is not to render it "... = 1"
    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement),
                           ("name", InternalTraversal.dp_string)]

    def __init__(self, column: ColumnElement[int], name: str):
        self.column, self.name = column, name


@compiles(InListed)
def _expanding_in(element: InListed, compiler, **kw) -> str:
    return compiler.process(element.column.in_(bindparam(element.name, expanding=True)), **kw)


class _ArrayText(TypeDecorator):
    """A list of integers as PostgreSQL's text form of an array."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value, dialect) -> str:
        return "{" + ",".join(str(int(item)) for item in value) + "}"


@compiles(InListed, "postgresql")
def _any_of_array(element: InListed, compiler, **kw) -> str:
    listed = cast(bindparam(element.name, type_=_ArrayText()), ARRAY(Integer))
    return compiler.process(element.column == any_(listed), **kw)
