"""Every HTTP route of the command centre except the wall's pages: one module per area, each a module-level Flask
blueprint whose handlers read the app's services bundle (``dashboard.page_services``) through ``common``, the one
request/error helper they all share.

    wall       /healthz, /api/cameras, /api/alerts, /api/wall/summary, /media/..., /video/... (and the API's hooks)
    cases      /api/cases..., /api/queries..., /api/figures..., /api/assessment, /api/export/..., claims
    evidence   /api/evidence/<case>.zip
    open311    /open311/v2/... (Open311 GeoReport v2)
    fleet      /api/vehicles..., /api/coverage, /api/reports (patrol cars and people's reports)
    telemetry  /api/telemetry/<vehicle> (GPS over HTTP; the websocket is dashboard.telemetry_ws)
    cameras    /api/cameras/config... (the camera registry)
    metrics    /metrics (Prometheus)
    live       /api/live (where the wall's live video comes from; the video socket is dashboard.live's)

``openapi`` describes them (docs/openapi.yaml). The login routes are dashboard.auth.login's;
dashboard.auth.policy's table names who may use each route.
"""
