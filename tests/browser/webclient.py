"""A plain HTTP client of the workspace pages: log in with a key, post forms with their token."""

from __future__ import annotations

import re

import httpx


def csrf_token(html: str) -> str:
    m = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert m is not None, "no CSRF token on the page"
    return m.group(1)


def session(base: str, key: str | None = None, language: str = "en") -> httpx.Client:
    """A client with its own cookie jar; logged in when ``key`` is given."""
    client = httpx.Client(base_url=base, timeout=60, headers={"Accept-Language": language})
    if key is not None:
        page = client.get("/ui/login")
        r = client.post("/ui/login", data={"api_key": key, "csrf_token": csrf_token(page.text)})
        assert r.status_code == 303 and r.headers["location"] == "/ui/queue", r.text[:500]
    return client


def post_form(client: httpx.Client, page: str, action: str, data: dict[str, str]) -> httpx.Response:
    """Post ``data`` to ``action`` with the CSRF token of ``page``."""
    html = client.get(page).text
    return client.post(action, data={**data, "csrf_token": csrf_token(html)})
