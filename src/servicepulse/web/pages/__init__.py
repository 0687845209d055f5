"""Server-rendered pages (Jinja2 templates in `servicepulse/web/templates`)."""
