"""Store URLs without their secrets, for everything that prints or logs one."""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

# libpq parameters that carry secrets when given in the query string.
_SECRET_PARAMETERS = frozenset({"password", "sslpassword", "passfile", "sslkey"})
HIDDEN = "***"


def redact_url(url: str) -> str:
    """``url`` with the password (in the address or as a query parameter) replaced by ***."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return HIDDEN
    netloc = parts.netloc
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        if ":" in user:
            netloc = f"{user.split(':', 1)[0]}:{HIDDEN}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(key.lower() in _SECRET_PARAMETERS for key, _ in pairs):
            query = urlencode([(key, HIDDEN if key.lower() in _SECRET_PARAMETERS else value)
                               for key, value in pairs], safe="*")
    if netloc == parts.netloc and query == parts.query:
        return url  # nothing secret; urlunsplit would also drop sqlite:///'s empty host
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def secrets_of(url: str) -> list[str]:
    """The secret strings in ``url``, as written and decoded (to scrub them from messages)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found: list[str] = []
    user = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    if ":" in user:
        found.append(user.split(":", 1)[1])
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key.lower() in _SECRET_PARAMETERS:
            found.append(value)
    out: list[str] = []
    for secret in found:
        for form in (secret, unquote(secret)):
            if form and form not in out:
                out.append(form)
    return out


def scrub(text: str, url: str) -> str:
    """``text`` with every secret of ``url`` replaced by ***."""
    for secret in sorted(secrets_of(url), key=len, reverse=True):
        text = text.replace(secret, HIDDEN)
    return text
