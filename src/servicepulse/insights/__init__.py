"""Text insights: sentiment of customer texts, contact drivers (topics) and KPI anomalies.

- `sentiment`: VADER scores of customer messages, survey comments and social mentions, stored
  in `text_sentiment` incrementally (also as an import hook); language detected offline.
- `drivers`: contact reasons discovered with TF-IDF + NMF, with the KPIs of each topic.
- `anomalies`: daily KPI values against a weekday-aware median/MAD baseline.
"""
