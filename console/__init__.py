"""The staff console: server-rendered pages mounted by the gateway under /staff.

`create_console(core, staff)` builds the sub-app; nothing is opened until the first request.
`ROUTES` is the one table of every route and the roles allowed on it (the tests walk it).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from console import auth, content_routes, insight_routes, referral_routes, user_routes
from console.context import Console
from console.limits import FormLimits
from miyun.settings import Settings, StaffSettings

STATIC_DIR = Path(__file__).resolve().parent / "static"

# (method, path, handler). Roles live on each handler (handler.roles, set by auth.guard).
ROUTES = [
    ("GET", "/", insight_routes.dashboard),
    ("GET", "/content", content_routes.content_list),
    ("GET", "/content/new", content_routes.content_new_page),
    ("POST", "/content/new", content_routes.content_new),
    ("GET", "/content/{kind}/{ident}", content_routes.content_edit_page),
    ("POST", "/content/{kind}/{ident}/save", content_routes.content_save),
    ("POST", "/content/{kind}/{ident}/preview", content_routes.content_preview),
    ("POST", "/content/{kind}/{ident}/verify", content_routes.content_verify),
    ("GET", "/publish", content_routes.publish_page),
    ("POST", "/publish", content_routes.publish_now),
    ("GET", "/versions/{version}", content_routes.version_page),
    ("POST", "/versions/{version}/rollback", content_routes.rollback),
    ("GET", "/unanswered", insight_routes.unanswered_page),
    ("POST", "/unanswered/{action}", insight_routes.unanswered_action),
    ("GET", "/nlu_export.yml", insight_routes.nlu_download),
    ("GET", "/feedback", insight_routes.feedback_page),
    ("GET", "/referrals", referral_routes.referral_list),
    ("GET", "/referrals.csv", referral_routes.referral_export),
    ("POST", "/referrals/anonymize", referral_routes.referral_anonymize),
    ("GET", "/referrals/locks", referral_routes.referral_locks),
    ("POST", "/referrals/{ref}/unlock", referral_routes.referral_unlock),
    ("POST", "/referrals/{ref}/delete", referral_routes.referral_delete),
    ("GET", "/referrals/{ref}", referral_routes.referral_detail),
    ("POST", "/referrals/{ref}/update", referral_routes.referral_update),
    ("GET", "/users", user_routes.users_page),
    ("POST", "/users", user_routes.user_create),
    ("POST", "/users/{name}", user_routes.user_update),
    ("GET", "/audit", user_routes.audit_page),
    ("POST", "/logout", auth.logout),
]


def create_console(core: Optional[Settings] = None, staff: Optional[StaffSettings] = None) -> Starlette:
    """The console sub-app (settings from the environment unless given)."""
    from miyun import settings as settings_mod

    console = Console(core or settings_mod.load(), staff or settings_mod.load_staff())
    routes: list = [
        Route("/login", auth.login_page, methods=["GET"]),
        Route("/login", auth.login, methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="staff_static"),
    ]
    routes += [Route(path, handler, methods=[method]) for method, path, handler in ROUTES]
    app = Starlette(routes=routes, middleware=[Middleware(FormLimits, max_bytes=console.staff.max_form_bytes)])
    app.state.console = console
    return app
