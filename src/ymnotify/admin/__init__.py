"""The admin listener of ``ymnotify serve``: metrics, the JSON API and the dashboard.

Served on its own socket (loopback by default), never by the public listener Market reaches.
"""

from __future__ import annotations

from ymnotify.admin.app import AdminApp, AdminConfig, create_admin_app
from ymnotify.admin.extensions import AdminExtension, NavLink, Section
from ymnotify.admin.metrics import ReceiverMetrics

__all__ = [
    "AdminApp",
    "AdminConfig",
    "AdminExtension",
    "NavLink",
    "ReceiverMetrics",
    "Section",
    "create_admin_app",
]
