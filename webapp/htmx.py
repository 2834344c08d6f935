"""The one place that decides whether a request wants a fragment (house-style practice 9)."""
from flask import make_response
from flask import redirect
from flask import request


def is_htmx():
    """True for an htmx request that wants a fragment (boosted navigations want whole pages)."""
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true"


def redirect_to(url):
    """Go to url after a POST: a 303 for a plain form, HX-Redirect for an htmx request."""
    if is_htmx():
        response = make_response("", 204)
        response.headers["HX-Redirect"] = url
        return response
    return redirect(url, 303)
