"""Thin route modules: parse the request, call a runner or a service, render the answer."""
