"""``--app MODULE:ATTRIBUTE``: an import that fails names the user's line, not ymnotify's."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ymnotify.cli.handlers import load_router
from ymnotify.errors import ConfigError

BAD_FIELD = """\
from ymnotify import OrderStatusUpdated, Router

router = Router()


@router.on(OrderStatusUpdated, stauts="CANCELLED")
async def cancelled(event):
    return None
"""


def test_a_refused_router_on_names_the_line_that_called_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "shop_bad_field.py").write_text(BAD_FIELD)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        with pytest.raises(ConfigError) as caught:
            load_router("shop_bad_field:router")
    finally:
        sys.modules.pop("shop_bad_field", None)
    message = str(caught.value)
    assert "OrderStatusUpdated has no field 'stauts'" in message
    assert message.endswith(f"({tmp_path / 'shop_bad_field.py'}:6)")
