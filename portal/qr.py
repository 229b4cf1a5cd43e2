"""A coupon code as a QR code the till can scan (PRODUCT.md §1: coupons travel with the
shopper as a code on screen and a QR code; the captive browser opens no apps and keeps
nothing). An SVG `data:` URI: no request, no other host (the pages' CSP allows
`img-src 'self' data:`), and plain text a page can carry escaped like any other value."""

from __future__ import annotations

import functools

import segno

from ads.redemption import till_link


@functools.lru_cache(maxsize=4096)
def qr_data_uri(text: str) -> str:
    """`text` as a QR code (a full QR code, never a Micro QR, which phone scanners often cannot
    read; error correction M), as an SVG data URI of a few hundred bytes."""
    code = segno.make(text, micro=False, error="m", boost_error=False)
    return code.svg_data_uri(scale=4, border=4, omitsize=False)


def coupon_qr(console_url: str, code: str) -> str:
    """A coupon's QR code: its link to the console's till page (ads.redemption.till_link), so
    staff can scan it with a phone's camera, or with a scanner into the till's code field."""
    return qr_data_uri(till_link(console_url, code))
