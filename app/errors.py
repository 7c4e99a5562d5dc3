"""Error handling for the whole app: every `/api` error in the envelope (including those of Flask,
Flask-AppBuilder, flask-jwt-extended and Flask-Limiter), friendly pages in the console, never a
stack trace to the user."""
from __future__ import annotations

import logging

from flask import Flask, current_app, g, render_template, request
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from .api.base import domain_error_response, error_response
from .extensions import db
from .request_limits import code_for_status
from .services.platform.errors import CATALOGUE, DomainError

log = logging.getLogger(__name__)


_PAGE_TEXT = {
    403: ("Not allowed", "Your role does not include this screen or action, or it is outside your lines/stations.",
          "Ask your supervisor or an administrator if you need it."),
    404: ("Not found", "There is nothing at this address.", "Use the menu to find the screen you need."),
    405: ("Not allowed here", "This address does not accept this kind of request.", "Use the menu."),
    414: ("Address too long", "The address (with its filters) is longer than the server takes.",
          "Use fewer or shorter filters."),
    413: ("Too large", "The request (e.g. an uploaded file) is larger than the server takes (MES_MAX_REQUEST_MB).",
          "Split the file, or have IT import it with `flask mes import`."),
    429: ("Too many attempts", "Too many attempts from this terminal.", "Wait a minute and try again."),
    500: ("Something went wrong", "The server could not complete the request.",
          "Try again. If it repeats, tell IT support the request id below."),
}


def _is_api() -> bool:
    return request.path.startswith("/api/")


def _page(status: int, title: str | None = None, message: str | None = None, hint: str | None = None):
    if "user" not in g:  # the error came before FAB's before_request (e.g. a CSRF refusal)
        g.user = current_user
    default = _PAGE_TEXT.get(status, ("Request refused", "The request could not be completed.", "Go back and try again."))
    return render_template("mes/error.html", status=status, title=title or default[0],
                           message=message or default[1], hint=hint or default[2],
                           request_id=g.get("request_id"),
                           appbuilder=getattr(current_app, "appbuilder", None),
                           base_template=current_app.config.get("FAB_BASE_TEMPLATE")), status


def console_page(status: int):
    """The console's error page for an HTTP status (request limits refused the request)."""
    return _page(status)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(error: DomainError):
        db.session.rollback()
        if _is_api():
            return domain_error_response(error)
        g.mes_error_code = error.code
        return _page(error.http_status(request.view_args), "Request refused", error.message,
                     error.entry.hint)

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        status = error.code or 500
        if _is_api():
            code = code_for_status(status)
            message = None
            if status == 400 and "CSRF" in (error.description or ""):
                code, message = "CSRF_FAILED", error.description
            return error_response(code, message, status=status if status != 400 else CATALOGUE[code].status)
        if status == 400 and "CSRF" in (error.description or ""):
            return _page(400, "Page expired", "The form's security token is missing or expired.",
                         "Reload the page and try again.")
        return _page(status)

    @app.errorhandler(Exception)
    def _crash(error: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        try:
            db.session.rollback()
        except Exception:  # pragma: no cover
            pass
        if _is_api():
            return error_response("INTERNAL_ERROR")
        g.mes_error_code = "INTERNAL_ERROR"
        return _page(500)

    _install_jwt_loaders(app)


def _install_jwt_loaders(app: Flask) -> None:
    """flask-jwt-extended answers `{"msg": …}` (and 422 for a malformed token) by default."""
    jwt = app.appbuilder.sm.jwt_manager

    def unauthorized(reason: str):
        return error_response("UNAUTHORIZED", f"Not signed in: {reason}. Log in again.")

    jwt.unauthorized_loader(lambda reason: unauthorized(reason))
    jwt.invalid_token_loader(lambda reason: unauthorized(reason))
    jwt.expired_token_loader(lambda header, data: unauthorized("the token has expired"))
    jwt.revoked_token_loader(lambda header, data: unauthorized("the token was revoked"))
    jwt.needs_fresh_token_loader(lambda header, data: unauthorized("a fresh login is required"))
    jwt.user_lookup_error_loader(
        lambda header, data: unauthorized("the user no longer exists, is inactive or changed the password"))
    jwt.token_verification_failed_loader(lambda header, data: unauthorized("the token failed verification"))
