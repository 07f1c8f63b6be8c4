"""Rendering pages: the Jinja2 templates beside this module, with the user's language, the
navigation their role may see, and the CSRF token of forms that write."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from api.auth import Principal
from api.web.i18n import LOCALES, formatter
from api.web.session import csrf_token, set_csrf_cookie
from incentive_engine.domain.visibility import Role

TEMPLATES = Path(__file__).parent / "templates"

environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(("html",)),
    trim_blocks=True,
    lstrip_blocks=True,
)


SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
"""Every page: scripts, styles and images from this host only (no inline script), never
framed; pages carry pay, so no cache keeps them."""


@dataclass(frozen=True)
class NavItem:
    """A link of the navigation bar."""

    href: str
    label: str


def navigation(who: Principal | None) -> list[NavItem]:
    """The links the signed-in role may follow (labels untranslated), in the order of a
    role's work: their own pay, then the team, boards, finance's period, plans."""
    if who is None:
        return []
    role = who.role
    items = [NavItem("/", "Home")]
    if role in (Role.REP, Role.MANAGER):
        items += [NavItem("/statements", "My statement"), NavItem("/what-if", "What if")]
    if role is Role.MANAGER:
        items.append(NavItem("/team", "My team"))
    if role is not Role.INTEGRATION:
        items.append(NavItem("/leaderboards", "Leaderboards"))
    if role in (Role.REP, Role.MANAGER):
        items.append(NavItem("/disputes", "Disputes"))
    if role is Role.FINANCE:
        items += [
            NavItem("/pay-run", "Pay run"),
            NavItem("/close", "Close"),
            NavItem("/adjustments", "Adjustments"),
            NavItem("/disputes/inbox", "Disputes"),
            NavItem("/audit", "Audit"),
        ]
    if role in (Role.FINANCE, Role.INTEGRATION):
        items.append(NavItem("/imports", "Import"))
    if role in (Role.PLAN_ADMIN, Role.FINANCE):
        items += [NavItem("/plans", "Plans"), NavItem("/plans/simulate", "Simulate")]
    if role in (Role.MANAGER, Role.FINANCE, Role.PLAN_ADMIN):
        items += [NavItem("/quotas", "Quotas"), NavItem("/territories", "Territories")]
    items.append(NavItem("/docs", "API"))
    return items


def page(
    request: Request,
    template: str,
    who: Principal | None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A page (or fragment) rendered in the user's language."""
    fmt = formatter(request)
    body = environment.get_template(template).render(
        request=request,
        who=who,
        nav=navigation(who),
        f=fmt,
        _=fmt.gettext,
        lang=fmt.locale,
        locales=LOCALES,
        csrf=csrf_token(request),
        **context,
    )
    response = HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)
    set_csrf_cookie(request, response)
    return response
