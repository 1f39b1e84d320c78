"""The review console: `graphguard review RUN` serves the case queue as a local web app.

An investigator works the queue (sorted by suspicion, size, growth or status, filtered by
status), opens a case (the run's case file, `graphguard.report.html`, with decision forms above
it: confirm with a label, dismiss, in review, assign, notes, per-member exceptions), decides
several cases at once from the queue, and reads the audit log. Every change goes through the
case store (`graphguard.casestore`), which records it in the audit log; the run is synced into
the store when the console starts.

A reader, like the report: it imports the case store and the HTML renderers, and nothing of the
pipeline. Standard library only (``wsgiref``); the security model is in `security`:

* `security`: loopback by default, the access token, Host and Origin checks, CSRF tokens;
* `pages`: the queue, case and audit pages (every value through `esc`);
* `app`: the WSGI application and its routes;
* `server`: binding and serving (`open_console`).
"""

from graphguard.console.app import ReviewApp
from graphguard.console.security import ConsoleError, Guard, check_bind, is_loopback, new_token
from graphguard.console.server import DEFAULT_HOST, DEFAULT_PORT, Console, open_console

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "Console",
    "ConsoleError",
    "Guard",
    "ReviewApp",
    "check_bind",
    "is_loopback",
    "new_token",
    "open_console",
]
