"""KPI engine: every KPI of DESIGN.md §3 defined once, with statistics, business hours and settings."""
