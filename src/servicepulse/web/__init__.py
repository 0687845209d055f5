"""The web service: authenticated API, live wallboard and dashboards (`servicepulse serve`)."""
