"""The console's URLs and the views that answer them."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from console.views import admin, devices, events, queue, reports, signin

STATIC_DIR = Path(__file__).resolve().parent / "static"


def add_routes(app: web.Application) -> None:
    """Every page, form target and the static files (named "static" for `url_for`)."""
    app.router.add_get("/login", signin.login_form)
    app.router.add_post("/login", signin.login)
    app.router.add_post("/logout", signin.logout)
    app.router.add_get("/", events.home)
    app.router.add_get("/events", events.event_list)
    app.router.add_get("/events/{uid}", events.event_page)
    app.router.add_post("/events/{uid}/review", events.review)
    app.router.add_post("/events/{uid}/assign", queue.assign)
    app.router.add_post("/incidents/bulk", queue.bulk)
    app.router.add_get("/dashboard", reports.dashboard)
    app.router.add_get("/export.{fmt}", reports.export)
    app.router.add_get("/audit", admin.audit)
    app.router.add_post("/verify", admin.verify)
    app.router.add_get("/users", admin.users)
    app.router.add_post("/users/{name}/{action}", admin.user_action)
    app.router.add_get("/devices", devices.device_list)
    app.router.add_get("/devices/{device}", devices.device_page)
    app.router.add_post("/devices/{device}/revoke", devices.revoke)
    app.router.add_post("/problems/{problem}/resolve", devices.resolve)
    app.router.add_get("/enrol-codes", devices.enrol_form)
    app.router.add_post("/enrol-codes", devices.enrol_make)
    app.router.add_static("/static/", STATIC_DIR, append_version=True, name="static")
    # after the policy and the log are open (console.app's cleanup context starts first)
    app.on_startup.append(queue.on_startup)
