"""Simulated quality reviews: two QA forms, and reviews of a share of the handled contacts.

A reviewer (the agent's team lead) reviews about QA_REVIEW_SHARE of the contacts an agent
handles, a few hours to three days after the work is done. Scores follow the same drivers as
the customers' surveys: the agent's skill and whether the contact was settled, transferred or
escalated, plus noise; so the busy-but-not-effective agent (skill 0.12, rushing) scores far
below the others, and a critical category at its minimum (a wrong answer) is rare for everyone
else. About CALIBRATION_SHARE of the reviewed contacts are also reviewed in calibration by
three reviewers (the first team leads) who grade a little differently: one as the consensus,
one more generously, one more harshly.

Draws come from a generator of their own (seeded by the run's seed), so adding reviews leaves
every other record of a seed as it was.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from servicepulse.simulate.org import AgentSpec, Organisation

QA_REVIEW_SHARE = 0.05
CALIBRATION_SHARE = 0.04
# How each calibration reviewer leans (on the logit of the score level): the first grades as
# the consensus, the second more generously, the third more harshly.
CALIBRATION_LEANS = (0.0, 0.7, -0.8)
TECHNICAL_ROLES = ("technical_support",)

# (name, weight, scale_min, scale_max, critical, description)
Category = tuple[str, float, int, int, bool, str]
CONVERSATION: tuple[Category, ...] = (
    ("greeting", 1, 0, 2, False, "Greets, introduces themself, sets expectations"),
    ("understanding", 2, 0, 4, False, "Finds the real question; asks before assuming"),
    ("accuracy", 3, 1, 5, True, "The answer and the policy quoted are right"),
    ("tone", 2, 0, 4, False, "Warm, clear, no jargon; matches the customer's mood"),
    ("closing", 1, 0, 2, False, "Confirms the fix, says what happens next"),
)
TECHNICAL: tuple[Category, ...] = (
    ("diagnosis", 3, 1, 5, True, "Finds the cause before trying fixes"),
    ("documentation", 1, 0, 2, False, "Notes steps and findings on the ticket"),
    ("communication", 2, 0, 4, False, "Explains the fix in the customer's words"),
    ("ownership", 2, 0, 4, False, "Follows through; escalates with context"),
)
FORMS = {"qa-conversation": ("Conversation quality", CONVERSATION, None),
         "qa-technical": ("Technical support quality", TECHNICAL, "technical_support")}
# What a reviewer writes about a category that scored low, and about a good contact.
LOW_COMMENTS = {
    "greeting": "No greeting or expectations set at the start.",
    "understanding": "Answered before understanding what the customer needed.",
    "accuracy": "Quoted the wrong policy: the customer got incorrect information.",
    "tone": "Curt replies; the customer's frustration was not acknowledged.",
    "closing": "Ended without confirming the fix or next steps.",
    "diagnosis": "Tried fixes at random instead of finding the cause.",
    "documentation": "Nothing noted on the ticket for the next person.",
    "communication": "Too much jargon: the customer could not follow the steps.",
    "ownership": "Escalated without context; the customer had to repeat everything.",
}
GOOD_COMMENTS = ("Clear, accurate and friendly: a model contact.",
                 "Found the real issue quickly and explained the fix well.")


def qa_forms() -> list[dict[str, Any]]:
    """The two forms: conversations (every role) and technical support."""
    out = []
    for form_id, (name, categories, role) in FORMS.items():
        record: dict[str, Any] = {"type": "qa_form", "id": form_id, "name": name,
                                  "categories": [
                                      {"name": c, "weight": w, "scale_min": low,
                                       "scale_max": high, "critical": critical,
                                       "description": text}
                                      for c, w, low, high, critical, text in categories]}
        if role is not None:
            record["role"] = role
        out.append(record)
    return out


class QaReviews:
    """Draws the reviews of each handled contact, in the order the contacts are made."""

    def __init__(self, org: Organisation, seed: int) -> None:
        self.rng = np.random.default_rng([seed, 18])
        self.count = 0
        leads = {team.index: org.agents[team.lead].id for team in org.teams if team.lead >= 0}
        self.lead_of = leads
        self.calibrators = [leads[index] for index in sorted(leads)][:len(CALIBRATION_LEANS)]

    def _scores(self, categories: tuple[Category, ...], quality: float,
                lean: float = 0.0) -> dict[str, int]:
        scores = {}
        for name, _weight, low, high, _critical, _text in categories:
            logit = 1.8 + 2.2 * quality + lean + 0.8 * float(self.rng.standard_normal())
            level = 1 / (1 + math.exp(-logit))
            scores[name] = low + round(level * (high - low))
        return scores

    def _review(self, review_id: str, iid: str, reviewer: str, form_id: str, at: int,
                scores: dict[str, int], iso: Callable[[int], str],
                calibration: bool = False) -> dict[str, Any]:
        record: dict[str, Any] = {"type": "qa_review", "id": review_id, "interaction_id": iid,
                                  "reviewer_id": reviewer, "form_id": form_id, "at": iso(at),
                                  "scores": scores}
        if calibration:
            record["calibration"] = True
        categories = FORMS[form_id][1]
        worst = min(categories, key=lambda c: (scores[c[0]] - c[2]) / (c[3] - c[2]))
        share = (scores[worst[0]] - worst[2]) / (worst[3] - worst[2])
        if self.rng.random() < 0.45:
            record["comment"] = (LOW_COMMENTS[worst[0]] if share < 0.5
                                 else GOOD_COMMENTS[int(self.rng.random() * 2)])
        return record

    def reviews(self, iid: str, agent: AgentSpec, quality: float, done: int, end: int,
                iso: Callable[[int], str]) -> list[dict[str, Any]]:
        """The reviews of one handled contact (usually none). `quality`: how well it went,
        on the scale of the survey's satisfaction driver (about -1.5 to 1)."""
        draws = self.rng.random(3)
        if draws[0] >= QA_REVIEW_SHARE:
            return []
        at = done + 6 * 3600 + int(draws[1] * 66 * 3600)
        reviewer = self.lead_of.get(agent.team)
        if at > end or reviewer is None or reviewer == agent.id:
            return []
        form_id = "qa-technical" if agent.role in TECHNICAL_ROLES else "qa-conversation"
        categories = FORMS[form_id][1]
        self.count += 1
        out = [self._review(f"QR{self.count:07d}", iid, reviewer, form_id, at,
                            self._scores(categories, quality), iso)]
        if draws[2] < CALIBRATION_SHARE:
            for index, (calibrator, lean) in enumerate(
                    zip(self.calibrators, CALIBRATION_LEANS, strict=False)):
                self.count += 1
                out.append(self._review(f"QR{self.count:07d}", iid, calibrator, form_id,
                                        at + 3600 * (index + 1),
                                        self._scores(categories, quality, lean), iso,
                                        calibration=True))
        return out
