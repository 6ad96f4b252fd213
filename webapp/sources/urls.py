"""Source URLs: which tool wrote a store, where it is, and the options to read it with.

    eventsourcing+sqlite:///path/to/file.sqlite[?compressor=zlib|bz2]
    eventsourcing+postgresql://USER@HOST[:PORT]/DB[?app=NAME][&schema=NAME][&compressor=zlib|bz2]
    commanded+postgresql://USER@HOST[:PORT]/DB[?schema=NAME]

    source = open_source("commanded+postgresql://reader@db/bank?schema=events")

The `eventsourcing` library's cipher key (its base64 `CIPHER_KEY`) is never part of a
URL, which ends up in shell histories and process lists: it is passed in, and the CLI
reads it from `EVENTSCOPE_SOURCE_CIPHER_KEY`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from webapp.sources.errors import ForeignStoreError
from webapp.sources.port import EventSource

KINDS: Final = {
    "eventsourcing+sqlite": "the eventsourcing library's SQLite file",
    "eventsourcing+postgresql": "the eventsourcing library's PostgreSQL tables",
    "commanded+postgresql": "Commanded's EventStore in PostgreSQL",
}
OPTIONS: Final = {
    "eventsourcing+sqlite": frozenset({"compressor"}),
    "eventsourcing+postgresql": frozenset({"app", "schema", "compressor"}),
    "commanded+postgresql": frozenset({"schema"}),
}
COMPRESSORS: Final = ("zlib", "bz2")
FORMS: Final = (
    "eventsourcing+sqlite:///path/to/file.sqlite, "
    "eventsourcing+postgresql://USER@HOST/DB[?app=NAME], "
    "commanded+postgresql://USER@HOST/DB[?schema=NAME]"
)


class SourceURLError(ForeignStoreError, ValueError):
    """A source URL that names no known tool, or an option it does not take."""


@dataclass(frozen=True, slots=True)
class SourceURL:
    """A parsed source URL: the tool's kind, where its store is, and the options given."""

    kind: str
    location: str
    """A file path (SQLite) or a SQLAlchemy PostgreSQL URL with the psycopg driver."""
    options: dict[str, str] = field(default_factory=dict)

    @property
    def display(self) -> str:
        """The URL without a password, for logs and the page header."""
        if self.kind == "eventsourcing+sqlite":
            return f"{self.kind}://{self.location}"
        shown = make_url(self.location).set(drivername=self.kind)
        return shown.render_as_string(hide_password=True)


def parse_source_url(raw: str) -> SourceURL:
    """`raw` parsed and checked; `SourceURLError` with the accepted forms when it is not one."""
    scheme, sep, _ = raw.partition("://")
    if not sep or scheme not in KINDS:
        shown = scheme if sep else raw[:60]
        msg = f"unknown source {shown!r}: use one of {FORMS}"
        raise SourceURLError(msg)
    try:
        url = make_url(raw)
    except ArgumentError:
        msg = f"not a source URL: {raw[:200]!r}; use one of {FORMS}"
        raise SourceURLError(msg) from None
    options = {key: _single(key, value) for key, value in url.query.items()}
    unknown = sorted(set(options) - OPTIONS[scheme])
    if unknown:
        takes = ", ".join(sorted(OPTIONS[scheme]))
        msg = f"{scheme} takes the option(s) {takes}, not {', '.join(unknown)}"
        raise SourceURLError(msg)
    compressor = options.get("compressor")
    if compressor is not None and compressor not in COMPRESSORS:
        msg = f"compressor must be one of {', '.join(COMPRESSORS)}, not {compressor!r}"
        raise SourceURLError(msg)
    if scheme == "eventsourcing+sqlite":
        if not url.database or url.host:
            msg = "an eventsourcing SQLite source is eventsourcing+sqlite:///path/to/file.sqlite"
            raise SourceURLError(msg)
        return SourceURL(scheme, url.database, options)
    if not url.database:
        msg = f"{scheme} needs a database name: {scheme}://USER@HOST[:PORT]/DB"
        raise SourceURLError(msg)
    location = _postgresql(url)
    return SourceURL(scheme, location.render_as_string(hide_password=False), options)


def _single(key: str, value: str | tuple[str, ...]) -> str:
    if isinstance(value, tuple):
        msg = f"the option {key!r} is given more than once"
        raise SourceURLError(msg)
    return value


def _postgresql(url: URL) -> URL:
    return url.set(drivername="postgresql+psycopg", query={})


def open_source(raw: str | SourceURL, *, cipher_key: str | None = None) -> EventSource:
    """The read-only source a URL names, opened and checked (`ForeignStoreError` when the
    database is not that tool's store or cannot be read). `cipher_key` is for `eventsourcing`
    stores; Commanded's EventStore does not encrypt and ignores it."""
    parsed = raw if isinstance(raw, SourceURL) else parse_source_url(raw)
    options = parsed.options
    if parsed.kind == "eventsourcing+sqlite":
        from webapp.sources.eventsourcing.sqlite import EventsourcingSQLiteSource

        return EventsourcingSQLiteSource(
            parsed.location, cipher_key=cipher_key, compressor=options.get("compressor")
        )
    if parsed.kind == "eventsourcing+postgresql":
        from webapp.sources.eventsourcing.postgres import EventsourcingPostgresSource

        return EventsourcingPostgresSource(
            parsed.location,
            app=options.get("app"),
            schema=options.get("schema"),
            cipher_key=cipher_key,
            compressor=options.get("compressor"),
        )
    from webapp.sources.commanded import CommandedSource

    return CommandedSource(parsed.location, schema=options.get("schema", "public"))
