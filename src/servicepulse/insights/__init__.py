"""Text insights: sentiment of customer texts, contact drivers (topics) and KPI anomalies.

- `sentiment`: VADER scores of customer messages, survey comments and social mentions, stored
  in `text_sentiment` incrementally (also as an import hook); language detected offline.
- `drivers`: contact reasons discovered from lemmatised words (TF-IDF + LSA, grouped while
  alike) or sentence embeddings, with the KPIs of each topic; `kept`: what drivers keep
  on disk for the next process, and when a kept result may be read.
- `anomalies`: daily KPI values against a weekday-aware median/MAD baseline.
"""
