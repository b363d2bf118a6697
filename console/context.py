"""The console's shared state: settings, lazily opened stores, templates and page rendering."""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Optional
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from miyun.knowledge.store import ContentStore
from miyun.referrals.runtime import runtime_for
from miyun.referrals.store import Runtime
from miyun.settings import Settings, StaffSettings
from miyun.staff.insights import TrackerStats
from miyun.staff.store import StaffStore

HERE = Path(__file__).resolve().parent
NO_STORE = {"Cache-Control": "no-store"}

# Navigation: (path, label, roles that may open it).
NAV = [
    ("/", "概览", ("editor", "mediator", "admin")),
    ("/content", "内容", ("editor", "admin")),
    ("/publish", "发布与版本", ("editor", "admin")),
    ("/unanswered", "未答问题", ("editor", "admin")),
    ("/feedback", "反馈", ("editor", "admin")),
    ("/referrals", "调解转介", ("mediator", "admin")),
    ("/users", "账号", ("admin",)),
    ("/audit", "操作记录", ("admin",)),
]
ROLE_LABELS = {"editor": "内容编辑", "mediator": "调解员", "admin": "管理员"}


class Console:
    """Everything a console request needs; stores are opened on first use, never at import."""

    def __init__(self, core: Settings, staff: StaffSettings) -> None:
        self.core, self.staff = core, staff
        from jinja2 import Environment, FileSystemLoader, select_autoescape

        self.templates = Environment(loader=FileSystemLoader(str(HERE / "templates")),
                                     autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
        self.templates.globals.update(nav=NAV, role_labels=ROLE_LABELS)

    @functools.cached_property
    def users(self) -> StaffStore:
        return StaffStore(self.core.runtime_db)

    @functools.cached_property
    def runtime(self) -> Runtime:
        return runtime_for(self.core)

    @functools.cached_property
    def live(self) -> ContentStore:
        return ContentStore(self.core.content_db)

    @functools.cached_property
    def trackers(self) -> TrackerStats:
        return TrackerStats(self.staff.tracker_path(self.core))

    @property
    def nlu_export(self) -> Path:
        return self.core.var_dir / "nlu_export.yml"

    def page(self, request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        """Render a console page with the user, CSRF token, base path and flash message."""
        session = getattr(request.state, "session", None)
        html = self.templates.get_template(template).render(
            request=request, base=base(request), user=session["user"] if session else None,
            csrf=session["csrf"] if session else "", msg=request.query_params.get("msg", ""),
            err=request.query_params.get("err", ""), **context)
        return HTMLResponse(html, status_code=status_code, headers=NO_STORE)


def base(request: Request) -> str:
    """The mount prefix (/staff) of the console."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def redirect(request: Request, path: str, msg: str = "", err: str = "") -> RedirectResponse:
    """303 to a console path, with an optional flash message."""
    url = base(request) + path
    params = "&".join(f"{k}={quote(v)}" for k, v in (("msg", msg), ("err", err)) if v)
    if params:
        url += ("&" if "?" in url else "?") + params
    return RedirectResponse(url, status_code=303, headers=NO_STORE)


def console(request: Request) -> Console:
    return request.app.state.console


def user(request: Request) -> dict:
    return request.state.session["user"]


def forbidden(request: Request, message: str = "您的账号没有权限查看此页面。") -> Response:
    """403 page that shows nothing but the refusal."""
    return console(request).page(request, "error.html", status_code=403, title="无权访问", message=message)


def not_found(request: Request, message: str = "没有找到。") -> Response:
    return console(request).page(request, "error.html", status_code=404, title="未找到", message=message)


def form_str(form: Any, name: str, default: str = "") -> str:
    value = form.get(name, default)
    return value if isinstance(value, str) else default


def optional(value: Optional[str]) -> Optional[str]:
    return value.strip() if value and value.strip() else None
