"""Quality reviews (docs/qa.md): QA forms, reviews, the internal quality score (IQS), review
sampling and calibration. The IQS arithmetic lives in `servicepulse.records.qa`, because the
importer derives each review's IQS when it stores it; `servicepulse.qa.iqs` is its name here."""
