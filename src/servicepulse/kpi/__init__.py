"""KPI engine: every KPI of DESIGN.md §3, defined once, with statistics and business hours."""
