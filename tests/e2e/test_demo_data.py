"""A newcomer's first look: `make demo` signs in to a stocked warehouse, not an empty page."""

from __future__ import annotations

import re

import requests

SAMPLE_SKU = re.compile(r"\b[A-Z]{4}-\d{7}\b")  # the seed's SKUs, e.g. FAST-0000042


def test_demo_greets_a_newcomer_with_sample_items(lb_url: str, admin_password: str) -> None:
    web = requests.Session()
    login = web.get(f"{lb_url}/login", timeout=10)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
    assert csrf, "no CSRF field on the sign-in page"
    signed_in = web.post(
        f"{lb_url}/login",
        data={"csrf_token": csrf[1], "username": "admin", "password": admin_password},
        timeout=10,
    )
    assert signed_in.status_code == 200 and "Sign out" in signed_in.text
    page = web.get(f"{lb_url}/items", timeout=10)
    assert page.status_code == 200
    total = re.search(r"([\d,]+) items?", page.text)
    assert total and int(total[1].replace(",", "")) >= 250, "the demo's item list is empty"
    assert len(set(SAMPLE_SKU.findall(page.text))) >= 10, "no sample items on the first page"
