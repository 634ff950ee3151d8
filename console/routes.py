"""The console's URLs and the views that answer them."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from console import views

STATIC_DIR = Path(__file__).resolve().parent / "static"


def add_routes(app: web.Application) -> None:
    """Every page, form target and the static files (named "static" for `url_for`)."""
    app.router.add_get("/login", views.login_form)
    app.router.add_post("/login", views.login)
    app.router.add_post("/logout", views.logout)
    app.router.add_get("/", views.home)
    app.router.add_get("/events", views.event_list)
    app.router.add_get("/events/{uid}", views.event_page)
    app.router.add_post("/events/{uid}/review", views.review)
    app.router.add_get("/dashboard", views.dashboard)
    app.router.add_get("/export.{fmt}", views.export)
    app.router.add_get("/audit", views.audit)
    app.router.add_post("/verify", views.verify)
    app.router.add_static("/static/", STATIC_DIR, append_version=True, name="static")
