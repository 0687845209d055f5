"""KPI engine: every KPI of docs/kpis.md, defined once, with statistics and business hours."""
