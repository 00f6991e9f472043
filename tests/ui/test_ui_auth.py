"""Sign-in, sessions and CSRF of the dashboard, over real HTTP."""

from __future__ import annotations

import httpx

from api.ui import session as cookies
from core.domain.throttle import USER_LIMIT, WINDOW_SECONDS
from core.store.opsusers import create_user
from tests.ui.conftest import OPS_USER, Dashboard, sign_in


async def test_ui_auth_pages_redirect_to_login(anonymous: Dashboard) -> None:
    for path in ["/ui", "/ui/clients", "/ui/clients/c-1", "/ui/approvals", "/ui/uplift"]:
        response = await anonymous.http.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/ui/login?next=")


async def test_ui_auth_htmx_request_gets_hx_redirect(anonymous: Dashboard) -> None:
    response = await anonymous.http.get("/ui/clients", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["hx-redirect"].startswith("/ui/login")


async def test_ui_auth_sign_in_and_out(anonymous: Dashboard) -> None:
    http = anonymous.http
    response = await sign_in(http)
    assert response.status_code == 303
    assert response.headers["location"] == "/ui"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "path=/ui" in cookie
    overview = await http.get("/ui")
    assert overview.status_code == 200
    assert OPS_USER in overview.text
    csrf = await anonymous.csrf()
    out = await http.post("/ui/logout", data={"csrf_token": csrf})
    assert out.status_code == 303
    assert out.headers["location"] == "/ui/login"
    assert (await http.get("/ui")).status_code == 303


async def test_ui_auth_wrong_password_is_refused(anonymous: Dashboard) -> None:
    for user, password in [(OPS_USER, "not the password"), ("nobody", "correct horse battery")]:
        response = await sign_in(anonymous.http, user, password)
        assert response.status_code == 401
        assert "Wrong username or password" in response.text
    assert (await anonymous.http.get("/ui")).status_code == 303


async def test_ui_auth_login_without_csrf_is_forbidden(anonymous: Dashboard) -> None:
    response = await anonymous.http.post(
        "/ui/login", data={"username": OPS_USER, "password": "correct horse battery", "csrf_token": "x"}
    )
    assert response.status_code == 403
    assert "form expired" in response.text
    # the page it answers carries a fresh token: signing in from it works
    retry = await sign_in(anonymous.http)
    assert retry.status_code == 303


async def test_ui_auth_post_needs_the_session_csrf_token(dashboard: Dashboard) -> None:
    for data in [{}, {"csrf_token": "forged"}]:
        response = await dashboard.http.post("/ui/logout", data=data)
        assert response.status_code == 403
    # the session is still signed in
    assert (await dashboard.http.get("/ui")).status_code == 200


async def test_ui_auth_forged_cookie_is_ignored(anonymous: Dashboard) -> None:
    forged = cookies.encode(cookies.new_session(OPS_USER), "not-the-secret")
    async with httpx.AsyncClient(base_url=anonymous.base_url, cookies={cookies.COOKIE: forged}) as http:
        assert (await http.get("/ui")).status_code == 303


async def test_ui_auth_next_is_kept_but_never_offsite(anonymous: Dashboard) -> None:
    page = await anonymous.http.get("/ui/login", params={"next": "/ui/uplift"})
    assert 'name="next" value="/ui/uplift"' in page.text
    evil = await anonymous.http.get("/ui/login", params={"next": "//evil.example/ui"})
    assert 'name="next" value="/ui"' in evil.text


async def test_ui_auth_security_headers(dashboard: Dashboard) -> None:
    response = await dashboard.http.get("/ui")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["server-timing"].startswith("app;dur=")


async def test_ui_auth_static_files_are_served_and_contained(anonymous: Dashboard) -> None:
    css = await anonymous.http.get("/ui/static/app.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    htmx = await anonymous.http.get("/ui/static/htmx-2.0.11.min.js")
    assert htmx.status_code == 200
    assert "htmx" in htmx.text[:200]
    for name in ["../app.py", "..%2Fapp.py", "nope.css"]:
        assert (await anonymous.http.get(f"/ui/static/{name}")).status_code == 404


async def test_ui_auth_repeated_failures_lock_the_username(anonymous: Dashboard) -> None:
    await create_user(anonymous.sessions, "second", "another long passphrase")
    for _ in range(USER_LIMIT):
        assert (await sign_in(anonymous.http, OPS_USER, "a wrong guess")).status_code == 401
    locked = await sign_in(anonymous.http)  # now even the right password is turned away
    assert locked.status_code == 429
    assert 0 < int(locked.headers["retry-after"]) <= WINDOW_SECONDS
    assert "Too many failed sign-ins. Try again in 15 minutes." in locked.text
    assert (await anonymous.http.get("/ui")).status_code == 303  # not signed in
    # Another ops user (from the same address, below its own limit) signs in as usual.
    assert (await sign_in(anonymous.http, "second", "another long passphrase")).status_code == 303


async def test_ui_auth_session_opens_the_codec_until_sign_out(anonymous: Dashboard) -> None:
    http = anonymous.http
    body = {"payloads": [{"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "e30="}]}
    assert (await http.post("/codec/decode", json=body)).status_code == 401
    signed = await sign_in(http)
    codec_cookie = [c for c in signed.headers.get_list("set-cookie") if c.startswith(cookies.CODEC_COOKIE)]
    assert len(codec_cookie) == 1
    assert {"path=/codec", "httponly", "samesite=strict"} <= set(codec_cookie[0].lower().split("; "))
    assert (await http.post("/codec/decode", json=body)).status_code == 200
    forged = httpx.Cookies(
        {cookies.CODEC_COOKIE: cookies.encode(cookies.new_session("ops"), "not-our-secret")}
    )
    async with httpx.AsyncClient(base_url=anonymous.base_url, cookies=forged) as stranger:
        assert (await stranger.post("/codec/decode", json=body)).status_code == 401
    await http.post("/ui/logout", data={"csrf_token": await anonymous.csrf()})
    assert (await http.post("/codec/decode", json=body)).status_code == 401
