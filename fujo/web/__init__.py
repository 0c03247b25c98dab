"""Server-rendered screens (Jinja2, Japanese) for the front desk, the welfare office, the recipient
portal and the operator. Mounted at ``/`` by :func:`fujo.web.views.mount`; the API stays at /api/v1."""
