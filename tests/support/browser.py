"""Opening a written page in Debian's headless Chromium (driven by Playwright): what a reader sees.

    with Browser() as browser:
        seen = browser.open(Path("reports/x/index.html"), screenshot=Path("shot.png"))
        seen.console_errors, seen.images   # [(src prefix, complete, natural width, height)]

Chromium runs with a fresh profile, no network features and no sandbox (tests run as root); the
page is loaded from the file system, as a user opening the report would.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from playwright.sync_api import ConsoleMessage, Page, Playwright, sync_playwright
from playwright.sync_api import Error as PlaywrightError

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class Seen:
    """What loading one page produced."""

    title: str
    console_errors: list[str] = field(default_factory=list)
    images: list[tuple[str, bool, int, int]] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    acted: object = None  # what `open`'s `act` returned


class Browser:
    """One headless Chromium for several pages; always closed on exit."""

    def __init__(self) -> None:
        self._profile = tempfile.TemporaryDirectory(prefix="chromium-")
        self._playwright: Playwright | None = None

    def __enter__(self) -> Browser:
        self._playwright = sync_playwright().start()
        self._context = self._playwright.chromium.launch_persistent_context(
            self._profile.name,
            executable_path=CHROMIUM,
            headless=True,
            args=FLAGS,
            viewport={"width": 1200, "height": 900},
        )
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        try:
            self._context.close()
        finally:
            if self._playwright is not None:
                self._playwright.stop()
            self._profile.cleanup()

    def open(
        self,
        path: Path,
        screenshot: Path | None = None,
        act: Callable[[Page], object] | None = None,
    ) -> Seen:
        """Load `path`; run `act` on the loaded page (its result in `Seen.acted`), then take
        the screenshot."""
        page = self._context.new_page()
        seen = Seen(title="")

        def on_console(message: ConsoleMessage) -> None:
            if message.type in ("error", "warning"):
                seen.console_errors.append(f"{message.type}: {message.text}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: seen.console_errors.append(f"page error: {error}"))
        page.on("requestfailed", lambda request: seen.failed_requests.append(request.url[:80]))
        try:
            page.goto(path.resolve().as_uri(), wait_until="load")
            seen.title = page.title()
            seen.images = [
                (str(src)[:30], bool(complete), int(width), int(height))
                for src, complete, width, height in page.evaluate(
                    "Array.from(document.images).map(i =>"
                    " [i.src, i.complete, i.naturalWidth, i.naturalHeight])"
                )
            ]
            if act is not None:
                seen.acted = act(page)
            if screenshot is not None:
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(screenshot), full_page=True)
        except PlaywrightError as error:
            seen.console_errors.append(f"playwright: {error}")
        finally:
            page.close()
        return seen
