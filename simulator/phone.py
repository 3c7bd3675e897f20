"""The virtual phone: ``GET /phone`` serves one self-contained HTML page (inline CSS and JS)."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from flask import Blueprint, Response


@cache
def phone_page() -> str:
    return files("simulator").joinpath("static", "phone.html").read_text(encoding="utf-8")


def phone_blueprint() -> Blueprint:
    bp = Blueprint("phone", __name__)

    @bp.get("/phone")
    def phone() -> Response:
        return Response(phone_page(), mimetype="text/html")

    return bp
