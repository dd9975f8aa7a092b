"""How other parts of ymnotify add to the admin listener without editing it.

The handler workers (per-handler attempts, errors and tracebacks on a notification's page; the
dead-letter list; replay) and anything later plug in as an ``AdminExtension`` given to
``create_admin_app``. Its routes sit behind the same access check as every admin route; its
navigation links appear in the dashboard's header; its sections appear on each notification's
page, below the body.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from markupsafe import Markup
from starlette.routing import BaseRoute

from ymnotify.store import StoredNotification


@dataclass(frozen=True, slots=True)
class NavLink:
    """A link in the dashboard's header; ``path`` must be under ``/ui/``."""

    label: str
    path: str


@dataclass(frozen=True, slots=True)
class Section:
    """A titled block on a notification's page; ``html`` is trusted markup (escape your data)."""

    title: str
    html: Markup


class AdminExtension(Protocol):
    """A part of the admin listener contributed by another package."""

    def routes(self) -> Sequence[BaseRoute]:
        """Routes under ``/ui/`` or ``/api/``; the access check applies to them as to ours."""
        ...

    def nav_links(self) -> Sequence[NavLink]:
        """Links for the dashboard's header."""
        ...

    async def notification_sections(self, notification: StoredNotification) -> Sequence[Section]:
        """Blocks for this notification's page (e.g. its handler jobs and a replay form)."""
        ...
