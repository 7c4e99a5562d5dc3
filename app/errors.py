"""Error handling for the whole app: every `/api` error in the envelope (including those of Flask,
Flask-AppBuilder, flask-jwt-extended and Flask-Limiter), friendly pages in the console, never a
stack trace to the user."""
from __future__ import annotations

import logging

from flask import Flask, current_app, g, render_template, request
from flask_babel import gettext
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from .api.base import domain_error_response, error_response
from .extensions import db
from .request_limits import code_for_status
from .services.platform.errors import CATALOGUE, DomainError
from .web.i18n import N_, error_text

log = logging.getLogger(__name__)


_PAGE_TEXT = {
    403: (N_("Not allowed"), N_("Your role does not include this screen or action, or it is outside your lines/stations."),
          N_("Ask your supervisor or an administrator if you need it.")),
    404: (N_("Not found"), N_("There is nothing at this address."), N_("Use the menu to find the screen you need.")),
    405: (N_("Not allowed here"), N_("This address does not accept this kind of request."), N_("Use the menu.")),
    414: (N_("Address too long"), N_("The address (with its filters) is longer than the server takes."),
          N_("Use fewer or shorter filters.")),
    413: (N_("Too large"), N_("The request (e.g. an uploaded file) is larger than the server takes (MES_MAX_REQUEST_MB)."),
          N_("Split the file, or have IT import it with `flask mes import`.")),
    429: (N_("Too many attempts"), N_("Too many attempts from this terminal."), N_("Wait a minute and try again.")),
    500: (N_("Something went wrong"), N_("The server could not complete the request."),
          N_("Try again. If it repeats, tell IT support the request id below.")),
}


def _is_api() -> bool:
    return request.path.startswith("/api/")


def _page(status: int, title: str | None = None, message: str | None = None, hint: str | None = None):
    if "user" not in g:  # the error came before FAB's before_request (e.g. a CSRF refusal)
        g.user = current_user
    default = _PAGE_TEXT.get(status, (N_("Request refused"), N_("The request could not be completed."),
                                      N_("Go back and try again.")))
    return render_template("mes/error.html", status=status, title=title or gettext(default[0]),
                           message=message or gettext(default[1]), hint=hint or gettext(default[2]),
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
        message, hint = error_text(error.code, error.message)
        return _page(error.http_status(request.view_args), gettext("Request refused"), message, hint)

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
            return _page(400, gettext("Page expired"), gettext("The form's security token is missing or expired."),
                         gettext("Reload the page and try again."))
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
