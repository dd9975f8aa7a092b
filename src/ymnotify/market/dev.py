"""The cabinet ``market serve --dev`` seeds: fixed ids, so the docs and the command line's
defaults can name them without starting (or importing) the sandbox."""

from __future__ import annotations

DEV_BUSINESS_ID = 1
DEV_CAMPAIGN_ID = 1001
DEV_USER = "dev"
