"""Observability shared by the doors: Prometheus metrics (``http``, ``pipeline``), their
exposition on a port of its own (``exposition``) and structured logs (``logs``)."""
