"""Where the real-browser tests find Chromium and Playwright, and why they skip without them."""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_skip_reason(purpose: str) -> str | None:
    """Why a browser test cannot run here (naming the fix), or None when it can."""
    if not CHROMIUM.exists():
        return (f"Chromium not found at {CHROMIUM}: run `make browser-deps` (as root: "
                f"apt-get install chromium) to enable the {purpose}")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is missing: pip install playwright"
    return None
