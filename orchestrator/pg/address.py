"""Where a PostgreSQL server is: parse libpq/SQLAlchemy URLs, render libpq and SQLAlchemy URLs, redact passwords."""

from __future__ import annotations

from urllib.parse import quote, urlencode

import psycopg.conninfo
from pydantic import BaseModel, ConfigDict, SecretStr

from orchestrator.errors import InputError

# SQLAlchemy dialect+driver prefixes that name the same libpq server; all normalize to postgresql://.
_SCHEMES = ("postgresql", "postgres")
_KNOWN_KEYS = {"host", "hostaddr", "port", "user", "password", "dbname"}
_SECRET_PARAMS = {"sslpassword"}


class ServerAddress(BaseModel):
    """A server and the credentials to reach it; `dbname` is the maintenance database the tool connects to."""

    model_config = ConfigDict(frozen=True)

    host: str | None = None
    port: int | None = None
    user: str | None = None
    password: SecretStr | None = None
    dbname: str = "postgres"
    # Other libpq parameters (sslmode, options, application_name...) kept as given.
    params: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, url: str) -> ServerAddress:
        """Parse a libpq URI, a SQLAlchemy URL (postgresql+psycopg://...) or a key=value conninfo string."""
        text = url.strip()
        if not text:
            raise InputError("the database URL is empty", "pass --database-url postgresql://USER@HOST:PORT/postgres")
        if "://" in text:
            scheme, rest = text.split("://", 1)
            base = scheme.split("+", 1)[0].lower()
            if base not in _SCHEMES:
                raise InputError(
                    f"the database URL has the scheme {scheme!r}, not a PostgreSQL one",
                    "use postgresql://USER:PASSWORD@HOST:PORT/DBNAME (postgres:// and postgresql+psycopg:// work too)",
                )
            text = "postgresql://" + rest
        try:
            info = psycopg.conninfo.conninfo_to_dict(text)
        except psycopg.ProgrammingError as exc:
            # The message of libpq may quote the string, password included: do not repeat it.
            raise InputError(
                "the database URL cannot be parsed: " + _first_line(str(exc)).replace(text, "<url>"),
                "use postgresql://USER:PASSWORD@HOST:PORT/DBNAME",
            ) from None
        port = info.get("port")
        try:
            port_number = int(str(port)) if port not in (None, "") else None
        except ValueError:
            raise InputError(
                f"the database URL has the port {port!r}, not a number", "use postgresql://USER@HOST:5432/DBNAME"
            ) from None
        password = info.get("password")
        return cls(
            host=str(info["host"]) if info.get("host") else None,
            port=port_number,
            user=str(info["user"]) if info.get("user") else None,
            password=SecretStr(str(password)) if password else None,
            dbname=str(info.get("dbname") or "postgres"),
            params=tuple(sorted((k, str(v)) for k, v in info.items() if k not in _KNOWN_KEYS and v is not None)),
        )

    def with_dbname(self, dbname: str) -> ServerAddress:
        return self.model_copy(update={"dbname": dbname})

    def url(self, dbname: str | None = None, *, scheme: str = "postgresql", redact: bool = False) -> str:
        """A URL for `dbname` (default: the maintenance db); `redact` replaces the password with ***."""
        userinfo = ""
        if self.user:
            userinfo = quote(self.user, safe="")
            if self.password is not None:
                secret = "***" if redact else quote(self.password.get_secret_value(), safe="")
                userinfo += ":" + secret
            userinfo += "@"
        query: list[tuple[str, str]] = [
            (key, "***" if redact and key in _SECRET_PARAMS else value) for key, value in self.params
        ]
        netloc = ""
        # A unix socket directory (or several hosts) cannot sit in the authority part: libpq and SQLAlchemy
        # both accept it as the host query parameter.
        if self.host and ("/" in self.host or "," in self.host):
            query.insert(0, ("host", self.host))
            if self.port is not None:
                query.insert(1, ("port", str(self.port)))
        else:
            if self.host:
                netloc = f"[{self.host}]" if ":" in self.host else self.host
            if self.port is not None:
                netloc += f":{self.port}"
        path = "/" + quote(dbname if dbname is not None else self.dbname, safe="")
        tail = ("?" + urlencode(query)) if query else ""
        return f"{scheme}://{userinfo}{netloc}{path}{tail}"

    @property
    def description(self) -> str:
        """The server for messages and logs: never the password."""
        return self.url(redact=True)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "unknown error"
