"""Who may do what, and who is asking: the only place in the dashboard that decides it (issue 18).

* ``policy``: the pure rules, computed from settings and the things asked about (no Flask, no session, no SQL,
  no Redis; .importlinter holds that): the route and Dash-callback table, role checks, the car's token, same
  origin, the client behind trusted proxies, whether a user may see or act on a case, the production posture.
* ``session``: the signed session cookie and the user it names (re-read from the database, cached a few seconds;
  revoked at logout); ``current_user`` / ``current_actor`` / ``in_scope`` / ``scope_filter`` for views and
  callbacks, ``user_from_cookie`` for the websockets, the session's signing key.
* ``guard``: the before-request hook applying the policy to every request, ``require`` / ``require_in_callback``,
  the security headers (CSP), and ``init_auth``, which puts sessions, the login routes and the guard on an app.
* ``answers``: how a refusal is answered (JSON on the API's paths, in the request's language).
* ``login``: /login, /logout and /api/me, and the first start's admin user; ``throttle`` slows password guessers.
* ``websocket``: the same checks (same site, a logged-in viewer) at a websocket's handshake.

Import the module you mean (``from dashboard.auth import guard, session``): this file re-exports nothing.
"""
