#!/usr/bin/env python3
"""A small WebKitGTK browser for the offline tests, driven by WebKitWebDriver.

MiniBrowser keeps every website's data in memory when it runs under automation, so a
browser restart there is a new device. This shell keeps its profile (IndexedDB, the service
worker, cookies, caches) in the directory named by OUTPOST_WEBKIT_PROFILE, as Safari keeps
its own, and writes the pages' console messages to stdout, where the test reads them.
WebKitWebDriver starts it with WEBKIT_INSPECTOR_SERVER set; the automation session it opens
asks for web views through `create-web-view`.
"""
import os
import signal

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("WebKit2", "4.1")
from gi.repository import GLib, Gtk, WebKit2  # noqa: E402

NAME = "OutpostWebKitShell"

profile = os.environ["OUTPOST_WEBKIT_PROFILE"]
manager = WebKit2.WebsiteDataManager(
    base_data_directory=os.path.join(profile, "data"),
    base_cache_directory=os.path.join(profile, "cache"),
)
context = WebKit2.WebContext(website_data_manager=manager)
context.set_automation_allowed(True)
# Cookies on disk too: a browser restart must find the session the person left.
manager.get_cookie_manager().set_persistent_storage(
    os.path.join(profile, "cookies.sqlite"), WebKit2.CookiePersistentStorage.SQLITE
)


def create_web_view(_session):
    view = WebKit2.WebView(web_context=context, is_controlled_by_automation=True)
    view.get_settings().set_enable_write_console_messages_to_stdout(True)
    window = Gtk.Window()
    window.set_default_size(1280, 900)
    window.add(view)
    window.show_all()
    view.connect("close", lambda v: window.destroy())
    return view


def automation_started(_context, session):
    info = WebKit2.ApplicationInfo()
    info.set_name(NAME)
    info.set_version(1, 0, 0)
    session.set_application_info(info)
    session.connect("create-web-view", create_web_view)


context.connect("automation-started", automation_started)
GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, Gtk.main_quit)
Gtk.main()
