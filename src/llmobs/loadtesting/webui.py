"""The Locust web UI of the guide's locustfile: never open to the network without a login.

Locust binds its UI to every interface unless told (``--web-host`` defaults to ``*``), and the UI
starts load. So, with this module loaded (the locustfile loads it):

- without ``--web-login`` the UI listens on loopback only when no ``--web-host`` was given
  (the guide's ``http://localhost:8089`` still works), and a ``--web-host`` beyond loopback is
  refused with exit code 2;
- ``--web-login`` asks for the one account in ``$LOCUST_WEB_USERNAME`` and
  ``$LOCUST_WEB_PASSWORD`` (``playbooks/loadtest-ui.yml`` hands them over in the master's
  environment file, the password generated on the control node); without them, exit code 2.
"""

from __future__ import annotations

import hmac
import os
import secrets
import sys
from typing import Any

from flask import Blueprint, redirect, request, session, url_for
from flask_login import UserMixin, login_user
from locust import events

from llmobs.cli import EXIT_USAGE, printable
from llmobs.webauth import loopback

USERNAME_VARIABLE = "LOCUST_WEB_USERNAME"
PASSWORD_VARIABLE = "LOCUST_WEB_PASSWORD"


class Operator(UserMixin):
    def __init__(self, name: str) -> None:
        self.id = name


def _refuse(reason: str) -> None:
    print(f"litellm_locustfile: {printable(reason)}", file=sys.stderr, flush=True)
    sys.exit(EXIT_USAGE)


@events.init.add_listener
def _guard(environment: Any, web_ui: Any = None, **_: Any) -> None:
    if web_ui is None:
        return
    options = environment.parsed_options
    if not options.web_login:
        if options.web_host in ("*", ""):
            web_ui.host = "127.0.0.1"
            print(
                f"litellm_locustfile: web UI on loopback only (http://127.0.0.1:{web_ui.port}): to open it "
                "to the network give --web-host with --web-login",
                flush=True,
            )
        elif not loopback(options.web_host):
            _refuse(
                f"--web-host {options.web_host}: a web UI that starts load listens beyond loopback only "
                f"behind --web-login (with ${USERNAME_VARIABLE} and ${PASSWORD_VARIABLE})"
            )
        return
    name, password = os.environ.get(USERNAME_VARIABLE, ""), os.environ.get(PASSWORD_VARIABLE, "")
    if not name or not password:
        _refuse(f"--web-login needs the account in ${USERNAME_VARIABLE} and ${PASSWORD_VARIABLE}")
    install_login(web_ui, name, password)


def install_login(web_ui: Any, name: str, password: str) -> None:
    """Locust's login page, checking the one account (in constant time)."""
    web_ui.app.config["SECRET_KEY"] = secrets.token_hex(32)  # sessions end with the process
    web_ui.login_manager.user_loader(lambda user_id: Operator(user_id) if user_id == name else None)
    web_ui.auth_args = {"username_password_callback": "/login_submit"}
    blueprint = Blueprint("llmobs_login", __name__)

    @blueprint.route("/login_submit", methods=["POST"])
    def login_submit() -> Any:
        given_name = request.form.get("username", "")
        given_password = request.form.get("password", "")
        name_ok = hmac.compare_digest(given_name.encode(), name.encode())
        if hmac.compare_digest(given_password.encode(), password.encode()) and name_ok:
            login_user(Operator(name))
            return redirect(url_for("locust.index"))
        session["auth_error"] = "Wrong username or password"
        return redirect(url_for("locust.login"))

    web_ui.app.register_blueprint(blueprint)
