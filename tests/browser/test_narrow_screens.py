"""On a narrow screen (a laptop split in two, a tablet) the navigation sits above the page
and nothing from the wide layout paints over the content or widens the page."""

from __future__ import annotations

import struct
import zlib

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

NARROW = {"width": 700, "height": 900}
PAGES = [
    "/",
    "/streams/",
    "/timeline/",
    "/projections/",
    "/aggregates/",
    "/access-log/",
    "/accounts/",
    "/accounts/admin",
    "/sign-ins/",
]


def pixel(page, x: int, y: int) -> tuple[int, int, int]:
    """The colour the browser painted at (x, y) of the viewport."""
    png = page.screenshot(clip={"x": x, "y": y, "width": 1, "height": 1})
    chunks, offset = {}, 8
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        kind = png[offset + 4 : offset + 8]
        chunks[kind] = chunks.get(kind, b"") + png[offset + 8 : offset + 8 + length]
        offset += 12 + length
    # a one-pixel image: a filter byte, then the pixel (every filter leaves it as it is)
    row = zlib.decompress(chunks[b"IDAT"])
    return row[1], row[2], row[3]


def is_light(colour: tuple[int, int, int]) -> bool:
    return sum(colour) / 3 > 200


def test_a_stream_title_is_readable_below_the_navigation_on_a_narrow_screen(
    page, live_server, login_as, screenshot
):
    page.set_viewport_size(NARROW)
    login_as(page, "viewer")
    page.goto(f"{live_server.url}/streams/account-10001")

    title = page.get_by_role("heading", level=1)
    expect(title).to_be_visible()
    navigation = page.get_by_role("navigation", name="Main").bounding_box()
    box = title.bounding_box()

    assert box["y"] >= navigation["y"] + navigation["height"]
    assert is_light(pixel(page, 4, int(box["y"] + box["height"] / 2)))
    assert is_light(pixel(page, int(box["x"] + box["width"] + 4), int(box["y"] + 4)))
    screenshot(page, "narrow-stream")


@pytest.mark.parametrize("path", PAGES)
def test_no_page_is_wider_than_a_narrow_screen(page, live_server, login_as, path):
    page.set_viewport_size(NARROW)
    login_as(page, "admin")
    page.goto(f"{live_server.url}{path}")
    expect(page.get_by_role("heading", level=1)).to_be_visible()

    width = page.evaluate("document.documentElement.scrollWidth")

    assert width <= NARROW["width"]
