"""A rep's own notification preferences: language, e-mail address, channels per kind. A rep
(or a manager, for the news about their own pay) reads and sets only their own: the route
has no rep id, the subject of the token is the rep."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Principal, Role
from api.deps import EngineDep, require
from incentive_engine.services import notifications as service

router = APIRouter(prefix="/v1/me/notification-preferences", tags=["notifications"])

Rep = Annotated[Principal, require(Role.REP, Role.MANAGER)]


class PreferencesIn(BaseModel):
    """What to change (what is left out stays)."""

    model_config = ConfigDict(extra="forbid")

    language: Literal["vi", "en"] | None = Field(None, description="vi or en.")
    email: str | None = Field(None, min_length=3, max_length=320, description="E-mail address.")
    clear_email: bool = Field(False, description="Forget the e-mail address.")
    channels: dict[str, dict[Literal["email", "webhook"], bool]] | None = Field(
        None,
        max_length=len(service.KINDS),
        description='Per kind, each channel on or off: {"rank_changed": {"email": false}}.',
    )


class PreferencesOut(BaseModel):
    """A rep's preferences: every kind with each channel on or off."""

    rep_id: str
    language: str
    email: str | None
    channels: dict[str, dict[str, bool]]


@router.get("", response_model=PreferencesOut)
def read_preferences(request: Request, who: Rep, _engine: EngineDep) -> dict[str, object]:
    """The caller's own notification preferences."""
    settings = request.app.state.settings
    found = service.preferences(
        request.app.state.views,  # opened with the engine
        who.subject,
        settings.locale or settings.web_locale,
    )
    return found.record()


@router.put("", response_model=PreferencesOut)
def set_preferences(
    request: Request, body: PreferencesIn, who: Rep, _engine: EngineDep
) -> dict[str, object]:
    """Change the caller's own notification preferences (422 naming the field when invalid,
    nothing stored)."""
    settings = request.app.state.settings
    switches = [
        (f"{kind}:{channel}", on)
        for kind, channels in (body.channels or {}).items()
        for channel, on in channels.items()
    ]
    found = service.set_preferences(
        request.app.state.views,  # opened with the engine
        who.subject,
        default_language=settings.locale or settings.web_locale,
        at=datetime.now(UTC),
        language=body.language,
        email=body.email,
        clear_email=body.clear_email,
        enable=[item for item, on in switches if on],
        disable=[item for item, on in switches if not on],
    )
    return found.record()
