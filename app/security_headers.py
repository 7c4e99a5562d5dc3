"""Security headers on every response (console pages, /api answers, static files, error pages).

flask-talisman sets them, with a per-request nonce in the Content-Security-Policy: Flask-AppBuilder's
templates already mark every inline and external script with `nonce="{{ baselib.get_nonce() }}"`,
which reads talisman's `csp_nonce()`. Our own templates do the same; they carry no inline event
handlers (`onclick=` …) and no `javascript:` links: app/static/mes/common.js wires those behaviours.

The policy (decided, see sop/ops/configuration.md):
- scripts: same origin, plus inline scripts bearing this response's nonce (no 'unsafe-inline', no
  'unsafe-eval'); objects none; the page may not be framed (frame-ancestors 'none' and
  X-Frame-Options DENY); forms post to the same origin only; API calls go to the same origin only.
- styles: same origin plus inline styles ('unsafe-inline'): FAB's templates, select2, the
  datepicker and Swagger UI write `style=` attributes, which a nonce cannot cover. Injected styles
  cannot run script; the script policy is where XSS is stopped.
- images and fonts: same origin and `data:` URIs (the vendored stylesheets embed some).

Three talisman defaults are turned off because they fight the app's own configuration:
- `force_https`: TLS is ended by gunicorn (MES_TLS_CERT) or by the reverse proxy; a plain-HTTP
  demo on 127.0.0.1 must keep working, and talisman would redirect every request to https.
- `session_cookie_secure`: talisman would force SESSION_COOKIE_SECURE on at every request; the
  cookie's Secure flag stays with MES_SECURE_COOKIES (config.py).
- `strict_transport_security`: talisman sends HSTS whenever a client sends
  `X-Forwarded-Proto: https`, proxy or not. HSTS is set below only when the request really arrived
  over TLS: `request.is_secure`, i.e. wsgi.url_scheme, which ProxyFix takes from the configured
  number of proxies (MES_PROXY_COUNT) and from nobody else.
talisman registers its hooks at init: create_app() calls this before any other extension registers a
before_request hook, so the nonce exists even when a later hook refuses the request (CSRF, rate
limit) and an error page is rendered.
"""
from __future__ import annotations

from flask import Flask, request
from flask_talisman import Talisman

CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",  # + the per-request nonce (content_security_policy_nonce_in)
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'", "data:"],
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def register_security_headers(app: Flask) -> None:
    # one Talisman per app (it keeps the app it was given): tests build several apps
    app.extensions["talisman"] = Talisman(
        app,
        force_https=False,
        session_cookie_secure=False,
        session_cookie_http_only=True,
        session_cookie_samesite=app.config.get("SESSION_COOKIE_SAMESITE", "Lax"),
        strict_transport_security=False,
        frame_options="DENY",
        content_security_policy=CONTENT_SECURITY_POLICY,
        content_security_policy_nonce_in=["script-src"],
        referrer_policy="same-origin",
        x_content_type_options=True,
        permissions_policy={"browsing-topics": "()"},
        x_xss_protection=False,  # obsolete; modern browsers ignore it, the CSP does the job
    )
    max_age = int(app.config.get("MES_HSTS_MAX_AGE", 31536000))

    @app.after_request
    def _hsts(response):
        if max_age > 0 and request.is_secure:
            response.headers["Strict-Transport-Security"] = f"max-age={max_age}"
        return response
