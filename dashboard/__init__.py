"""The dashboard: the Dash pages (``dashboard/pages/``), the JSON API, push and live websockets, and the guard.

The pages' helpers are one generation, one module per thing a reader looks for rather than per page family:
``ids`` holds every component id of every page (namespaced by page; assets/*.js and the browser tests use the
strings), ``texts`` every word that is not data, ``frame`` the frame every page sits in and the one set-up its
layout starts with (``register_page``, ``role_layout``). Each page's pure reads and actions sit beside it as
``<page>_queries`` (the wall's ``wall_queries`` serves its JSON API too, beside ``wall_data`` and ``map_data``), so a
page's layout and callbacks stay thin over functions tested without a browser.
"""
