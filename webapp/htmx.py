"""The one place that decides whether a request wants a fragment (house-style practice 9)."""
from flask import request


def is_htmx():
    """True for an htmx request that wants a fragment (boosted navigations want whole pages)."""
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true"
