"""`servicepulse bench insights`: sentiment scoring, the import hook's cost, topic discovery.

Each figure is the median of several runs, with a baseline measured in the same process:
- scoring: texts a second through `score_text` (language detection + VADER, cache off)
  against VADER alone, the floor any scorer of this kind pays;
- the import hook: importing customer messages with the sentiment hook against the same
  import without it (what the hook adds to every import);
- contact drivers: discovering topics with their number chosen against the same tree cut at
  a fixed number, over growing numbers of texts;
- sentence embeddings: the NumPy encoder's rate against tokenizing alone, and topics by
  embeddings against topics by words on the same texts.
`--quality` (`run_insights_quality`) measures instead how right the results are: topics
against the reasons the simulator wrote the texts from (adjusted Rand index), sentiment
against the tones (accuracy, macro-F1), beside VADER alone.
"""

from __future__ import annotations

import json
import random
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path

from servicepulse.bench.report import machine_line, median, time_runs, write_section
from servicepulse.errors import Conflict, InvalidRequest

OPENINGS = ["Hi,", "Hello team,", "Good morning.", "Dear support,", ""]
# Five reasons: subjects and messages that share the reason's words, as real ones do.
REASONS = [
    (["Parcel not delivered", "Where is my parcel", "Late delivery"],
     ["my parcel has not been delivered yet", "the courier did not deliver my parcel",
      "tracking shows no delivery update for my parcel"]),
    (["Refund request", "Refund not received", "Return and refund"],
     ["I want a refund for the item I returned", "the refund never reached my card",
      "please refund the return I sent last week"]),
    (["Cannot log in", "Login problem", "Password reset"],
     ["I cannot log in to my account", "the password reset email for my login never arrives",
      "my account is locked after a failed login"]),
    (["Charged twice", "Invoice error", "Billing question"],
     ["I was charged twice on my invoice", "the invoice amount is wrong",
      "there is an unexpected charge on my invoice"]),
    (["Cancel subscription", "Cancellation", "Stop my subscription"],
     ["please cancel my subscription", "I want to cancel the subscription this month",
      "cancel my plan and the subscription renewal"]),
]
MOODS = ["Thanks a lot!", "This is terrible.", "I am really annoyed.", "Great service so far.",
         "", "Please help asap."]
FOREIGN = ["Mi pedido no ha llegado todavía, ¿pueden ayudarme?",
           "Mein Paket ist immer noch nicht angekommen, bitte helfen Sie mir.",
           "Je voudrais être remboursé pour ma commande retournée."]


def simulated_texts(count: int, seed: int = 1) -> list[str]:
    """Distinct customer texts (an order number each): a subject and a message of one of
    five reasons, a mood; one in twenty in Spanish, German or French."""
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        if rng.random() < 0.05:
            texts.append(f"{rng.choice(FOREIGN)} #{rng.randint(10_000, 99_999)}")
            continue
        subjects, messages = rng.choice(REASONS)
        texts.append(f"{rng.choice(subjects)}. {rng.choice(OPENINGS)} {rng.choice(messages)}, "
                     f"order {rng.randint(10_000, 99_999)}. {rng.choice(MOODS)}")
    return texts


def _rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s"


def _scoring(count: int, runs: int) -> list[str]:
    from servicepulse.insights.sentiment import _analyzer, score_text

    texts = simulated_texts(count)
    uncached: Callable[[str], object] = score_text.__wrapped__
    analyzer = _analyzer()
    full = median(time_runs(lambda: [uncached(text) for text in texts], runs))
    vader = median(time_runs(lambda: [analyzer.polarity_scores(text) for text in texts], runs))
    return [
        f"| scoring {count:,} texts (language + VADER) | {full:.2f} s | {_rate(count, full)} "
        f"| VADER alone {vader:.2f} s ({_rate(count, vader)}) | {full / vader:.1f}x |",
    ]


def _import_hook(count: int, runs: int) -> list[str]:
    from servicepulse.ingest import hooks
    from servicepulse.ingest.importer import import_rows
    from servicepulse.ingest.sources import SourceRow
    from servicepulse.insights.sentiment import score_after_batch, score_text
    from servicepulse.store import open_store

    texts = simulated_texts(count, seed=2)
    rows = []
    for index, text in enumerate(texts):
        interaction = {"type": "interaction", "id": f"i{index}", "channel": "chat",
                       "created_at": "2026-03-02T10:00:00Z"}
        event = {"type": "event", "id": f"e{index}", "interaction_id": f"i{index}",
                 "at": "2026-03-02T10:01:00Z", "kind": "customer_message",
                 "actor": "customer", "body": text}
        rows += [SourceRow("bench", 2 * index + 1, interaction, json.dumps(interaction)),
                 SourceRow("bench", 2 * index + 2, event, json.dumps(event))]
    hooks.load_hooks()

    def run(with_hook: bool) -> float:
        times = []
        for _ in range(runs):
            score_text.cache_clear()
            with tempfile.TemporaryDirectory() as folder:
                engine = open_store(f"sqlite:///{Path(folder) / 'bench.db'}")
                removed = False
                if not with_hook and score_after_batch in hooks.AFTER_IMPORT:
                    hooks.AFTER_IMPORT.remove(score_after_batch)
                    removed = True
                try:
                    summary = import_rows(engine, rows)
                    times.append(summary.seconds + summary.after_import_seconds)
                finally:
                    if removed:
                        hooks.AFTER_IMPORT.append(score_after_batch)
                    engine.dispose()
        return median(times)

    with_hook, without = run(True), run(False)
    return [
        f"| import {count:,} interactions + {count:,} customer messages, SQLite | "
        f"{with_hook:.2f} s | {_rate(2 * count, with_hook)} records | without the sentiment "
        f"hook {without:.2f} s | {with_hook / without:.1f}x |",
    ]


def _topics(sizes: list[int], runs: int) -> list[str]:
    from servicepulse.insights.topics import discover_topics

    lines = []
    for size in sizes:
        texts = simulated_texts(size, seed=3)
        chosen = median(time_runs(partial(discover_topics, texts), runs, warmup=1))
        fixed = median(time_runs(partial(discover_topics, texts, n_topics=5), runs, warmup=0))
        model = discover_topics(texts)
        lines.append(
            f"| drivers: topics of {size:,} texts, count chosen ({len(model.topics)}) | "
            f"{chosen:.2f} s | {_rate(size, chosen)} | the tree cut at 5 topics: "
            f"{fixed:.2f} s | {chosen / fixed:.1f}x |")
    return lines


def _embeddings(sizes: list[int], runs: int) -> list[str]:
    import numpy as np

    from servicepulse.insights.embeddings import sentence_encoder, static_encoder
    from servicepulse.insights.topics import CLUSTER_SAMPLE, discover_topics

    encoder = sentence_encoder()  # loaded once, as in a running service
    static = static_encoder()
    lines = []
    if sizes:
        texts = simulated_texts(min(sizes), seed=4)
        encoding = median(time_runs(partial(encoder.encode, texts), runs, warmup=0))
        tokenizing = median(time_runs(partial(encoder.tokenizer.encode_batch, texts), runs))
        fast = median(time_runs(partial(static.encode, texts), runs))
        agreement = float(np.mean(np.sum(static.encode(texts) * encoder.encode(texts),
                                         axis=1)))
        lines += [
            f"| encoding {len(texts):,} texts (NumPy all-MiniLM-L6-v2, the transformer) | "
            f"{encoding:.2f} s | {_rate(len(texts), encoding)} | tokenizing alone "
            f"{tokenizing:.2f} s | {encoding / tokenizing:.0f}x |",
            f"| encoding {len(texts):,} texts (static vectors distilled from it, what topics "
            f"use) | {fast:.3f} s | {_rate(len(texts), fast)} | the transformer "
            f"{encoding:.2f} s | {encoding / fast:.0f}x faster; mean cosine to the "
            f"transformer's vectors {agreement:.2f} |"]
    for size in sizes:
        texts = simulated_texts(size, seed=3)
        chosen = median(time_runs(partial(discover_topics, texts, method="embeddings"), runs,
                                  warmup=0))
        words = median(time_runs(partial(discover_topics, texts), runs, warmup=0))
        model = discover_topics(texts, method="embeddings")
        lines.append(
            f"| drivers by embeddings: topics of {size:,} texts "
            f"({min(size, CLUSTER_SAMPLE):,} embedded), count chosen ({len(model.topics)}) | "
            f"{chosen:.2f} s | {_rate(size, chosen)} | by words: {words:.2f} s | "
            f"{chosen / words:.1f}x |")
    return lines


# --- quality against labels ------------------------------------------------------------------

QUALITY_SETS = ((600, 1), (2000, 7), (5000, 3))  # (texts, seed) of the simulator's labelled texts


# The case: three reasons, five phrasings each (a person puts every phrasing of a
# reason in one group; the phrasings share a few words at most), a subject per contact.
# tests/insights/test_topics.py and test_drivers.py use it too.
THREE_GREETINGS = ["Hi team,", "Hello,", "Good morning.", "Dear support,", ""]
THREE_SIGN_OFFS = ["Thanks", "Regards", "Please help asap", "Thank you very much", ""]
THREE_REASONS: dict[str, tuple[list[str], list[str]]] = {
    "refund": (["Refund", "Refund not received", "Where is my refund"],
               ["I returned my order two weeks ago and still have no refund",
                "Where is the refund for order {n}? I sent the item back",
                "You promised me a refund but the money is not back on my card",
                "Please refund order {n}, the item was faulty and I returned it",
                "I am still waiting for my money back for the returned order"]),
    "password": (["Password reset", "Cannot log in", "Locked out"],
                 ["I forgot my password and the reset link does not work",
                  "The password reset email never arrives",
                  "I cannot log in because my password is rejected",
                  "How do I change my password? The reset page shows an error",
                  "My account is locked after I typed the wrong password"]),
    "delivery": (["Late delivery", "Where is my order", "Parcel not delivered"],
                 ["My order {n} has not been delivered yet",
                  "The courier did not deliver my parcel for order {n}",
                  "Where is my order? Tracking shows no update for a week",
                  "My package was supposed to arrive on Monday and it is not here",
                  "The delivery of order {n} is late, when will it arrive?"]),
}


def three_reason_texts(count: int, seed: int) -> tuple[list[str], list[str]]:
    """`count` texts of the three reasons in turn (subject, greeting, phrasing, sign-off),
    and the reason of each."""
    rng = random.Random(seed)
    texts, truth = [], []
    for index in range(count):
        reason = list(THREE_REASONS)[index % 3]
        subjects, messages = THREE_REASONS[reason]
        message = rng.choice(messages).format(n=rng.randint(10000, 99999))
        texts.append(f"{rng.choice(subjects)}. {rng.choice(THREE_GREETINGS)} {message} "
                     f"{rng.choice(THREE_SIGN_OFFS)}")
        truth.append(reason)
    return texts, truth


def _quality_topics(embedding_texts: int) -> list[str]:
    from sklearn.metrics import adjusted_rand_score

    from servicepulse.insights.topics import discover_topics
    from servicepulse.simulate.texts import labelled_texts

    lines = []
    for count, seed in QUALITY_SETS:
        labelled = labelled_texts(count, seed=seed, spanish_share=0.05)
        texts = [item.text for item in labelled]
        model = discover_topics(texts)
        lines.append(
            f"| topics by words, {count:,} simulated texts (seed {seed}) | "
            f"{adjusted_rand_score([item.issue for item in labelled], model.assignments):.3f} "
            f"| {len(model.topics)} topics for {len({item.issue for item in labelled})} "
            f"reasons | "
            f"{adjusted_rand_score([item.category for item in labelled], model.assignments):.3f}"
            f" |")
    for method in ("words", "embeddings"):
        scores, refund_split = [], []
        for seed in range(1, 6):
            texts, truth = three_reason_texts(180, seed)
            model = discover_topics(texts, method=method)
            scores.append(adjusted_rand_score(truth, model.assignments))
            refund_split.append(len({int(topic) for topic, reason in
                                     zip(model.assignments, truth, strict=True)
                                     if reason == "refund"}))
        lines.append(
            f"| the issue's case by {method}: refunds, passwords, deliveries, five phrasings "
            f"each (180 texts, seeds 1-5) | mean {sum(scores) / len(scores):.3f}, lowest "
            f"{min(scores):.3f} | refunds in {max(refund_split)} topic(s) at most | — |")
    if embedding_texts:
        labelled = labelled_texts(embedding_texts, seed=7, spanish_share=0.05)
        model = discover_topics([item.text for item in labelled], method="embeddings")
        lines.append(
            f"| topics by sentence embeddings, {embedding_texts:,} simulated texts (seed 7) | "
            f"{adjusted_rand_score([item.issue for item in labelled], model.assignments):.3f} "
            f"| {len(model.topics)} topics | "
            f"{adjusted_rand_score([item.category for item in labelled], model.assignments):.3f}"
            f" |")
    return lines


def _quality_sentiment(count: int) -> list[str]:
    from sklearn.metrics import accuracy_score, f1_score

    from servicepulse.insights.sentiment import label_for, score_text, vader_alone
    from servicepulse.simulate.texts import labelled_texts

    labelled = labelled_texts(count, seed=11)
    truth = [item.tone for item in labelled]
    product = [score_text(item.text, "en").label.value for item in labelled]
    baseline = [label_for(vader_alone().polarity_scores(item.text)["compound"]).value
                for item in labelled]
    return [
        f"| sentiment, {count:,} simulated customer messages: VADER + support lexicon "
        f"(the product) | accuracy {accuracy_score(truth, product):.3f} | macro-F1 "
        f"{f1_score(truth, product, average='macro'):.3f} |",
        f"| the same texts: VADER alone (baseline) | accuracy "
        f"{accuracy_score(truth, baseline):.3f} | macro-F1 "
        f"{f1_score(truth, baseline, average='macro'):.3f} |",
    ]


def run_insights_quality(embedding_texts: int = 600, sentiment_texts: int = 3000) -> str:
    """`servicepulse bench insights --quality`: topics and sentiment against labels."""
    lines = ["## Text insights: quality against labels", "",
             "Labelled texts: the simulator's contact texts "
             "(`servicepulse.simulate.texts.labelled_texts`: subject and first message made "
             "as the simulator makes them, 5% from the Spanish queue, each with the reason "
             "(issue, 20 of them in 6 categories) and the customer's tone it was written "
             "from). No public labelled set of customer texts installs from a package "
             "registry: PyPI's index (names and summaries) was searched for customer-support, "
             "ticket, intent and sentiment data sets; those found download their data at run "
             "time or hold no customer texts, and vaderSentiment ships only its lexicon. So "
             "none is used.", "",
             "| topics | adjusted Rand index against the reasons (goal >= 0.8) | topics found "
             "| against the 6 categories |",
             "|---|---|---|---|"]
    lines += _quality_topics(embedding_texts)
    lines += ["", "| sentiment against the customers' tones | accuracy | macro-F1 |",
              "|---|---|---|"]
    lines += _quality_sentiment(sentiment_texts)
    lines += ["", "Topics are grouped by reason, finer than the categories (a category holds "
              "unrelated reasons: a refund and a declined payment are both billing), so the "
              "index against categories is low by design. Topics by sentence embeddings "
              "(static vectors of each text's lemmatised content words, merged while their "
              "mean cosine is at least 0.63) group the simulator's 20 reasons about as well "
              "as words, the default; on the issue's case both keep every refund in one topic "
              "of refunds only, and either may show one other reason as two topics (by "
              "embeddings: deliveries, \"where is my order, tracking shows no update\" apart "
              "from the rest). The support lexicon makes "
              "courtesy words and the words that name a contact reason neutral "
              "(`SUPPORT_NEUTRAL_WORDS` in servicepulse.insights.sentiment); both scorers "
              "use VADER's own thresholds (+-0.05)."]
    markdown = "\n".join(lines)
    write_section("insights-quality", markdown)
    return markdown


def _cold(arguments: list[str], environment: dict[str, str],
          source: Path | None = None) -> tuple[float, str]:
    """Wall seconds of one `servicepulse ...` in a new process (imports, store, work), and
    what it printed; `source`: another checkout's `src` to run instead of this one."""
    import subprocess
    import sys
    import time

    if source is not None:
        environment = {**environment, "PYTHONPATH": str(source)}
    command = [sys.executable, "-m", "servicepulse", *arguments]
    started = time.perf_counter()
    done = subprocess.run(command, check=True, capture_output=True, env=environment, text=True)
    return time.perf_counter() - started, done.stdout


def run_drivers_bench(url: str, runs: int = 5, baseline: Path | None = None) -> str:
    """`servicepulse bench insights --drivers`: `servicepulse drivers` on the store at `url`
    (the demo's) in new processes: its result kept (the store unchanged), only its topic
    model kept (the store changed, the texts not), nothing kept; against `servicepulse kpi`
    of the same five KPIs over the same window by the stored queue (what the KPIs per topic
    cost without topics) and, with `baseline` (a checkout of an earlier commit), that
    commit's `drivers` with its model kept. Rounds of one run each, in turn (load on the
    machine slows a round, not one set-up). Every run's JSON must equal the first's. Then
    its steps in one process."""
    import os
    import shutil

    from servicepulse.insights.drivers import (
        DRIVER_KPIS,
        DriversQuery,
        DriversRunner,
        _range,
        _read_result,
        _result_path,
        contact_texts,
        topic_kpis,
    )
    from servicepulse.insights.kept import store_stamp
    from servicepulse.insights.topics import discover_topics
    from servicepulse.store import open_store

    base = ["--db", url]
    command = [*base, "drivers", "--format", "json"]
    load_before = os.getloadavg()[0]
    times: dict[str, list[float]] = {name: [] for name in (
        "kept", "model", "fresh", "kpi", "help", "baseline")}
    with tempfile.TemporaryDirectory() as folder:
        environment = {**os.environ, "SERVICEPULSE_CACHE_DIR": folder}
        before = {**os.environ, "SERVICEPULSE_CACHE_DIR": str(Path(folder) / "baseline")}
        output = _cold(command, environment)[1]  # fits, computes and keeps
        document = json.loads(output)
        window = ["--from", document["from"], "--to", document["to"]]
        # the baseline's model fitted and kept, and its figures the same as this checkout's
        if baseline is not None and \
                json.loads(_cold(command, before, baseline / "src")[1]) != document:
            raise InvalidRequest(f"--baseline {baseline}: its drivers differ from this "
                                 "checkout's, so the ratio would compare different work; "
                                 "give a checkout whose topics and KPIs are the same")
        outputs = []
        for run in range(runs):
            seconds, printed = _cold(command, environment)
            times["kept"].append(seconds)
            outputs.append(printed)
            shutil.rmtree(Path(folder) / "drivers-results", ignore_errors=True)
            seconds, printed = _cold(command, environment)
            times["model"].append(seconds)
            outputs.append(printed)
            fresh = {**environment, "SERVICEPULSE_CACHE_DIR": str(Path(folder) / f"new-{run}")}
            seconds, printed = _cold(command, fresh)
            times["fresh"].append(seconds)
            outputs.append(printed)
            times["kpi"].append(_cold([*base, "kpi", "--by", "queue", "--kpi",
                                       ",".join(DRIVER_KPIS), *window, "--format", "json"],
                                      environment)[0])
            times["help"].append(_cold(["--help"], environment)[0])
            if baseline is not None:
                times["baseline"].append(_cold(command, before, baseline / "src")[0])
        if any(json.loads(printed) != document for printed in outputs):
            raise Conflict(f"{url}: a run of `drivers` printed other figures than the first "
                           "(was the store written to meanwhile?); measure on a store "
                           "nothing writes to")
    engine = open_store(url)
    query = DriversQuery.model_validate({"from": document["from"], "to": document["to"]})
    runner = DriversRunner(engine)
    start, end = _range(query, runner._timezone())

    def read() -> list[tuple[str, str]]:
        with engine.connect() as connection:
            return contact_texts(connection, start, end)

    def kept() -> object:
        stamp = store_stamp(engine)
        return _read_result(_result_path(query, stamp, None, None)) if stamp else None

    texts = read()
    reading = median(time_runs(read, runs))
    fitting = median(time_runs(partial(discover_topics, [text for _, text in texts]), runs,
                               warmup=0))
    model = discover_topics([text for _, text in texts])
    assignments = {interaction: str(topic) for (interaction, _), topic in
                   zip(texts, model.assignments, strict=True) if topic >= 0}
    kpis = median(time_runs(partial(topic_kpis, engine, assignments, query), runs))
    runner.run(query)  # kept (unless the store was written to a moment ago)
    reading_kept = median(time_runs(kept, runs))
    engine.dispose()
    contacts = f"{document['contacts']:,} contacts, {len(document['topics'])} topics"
    load = (f"load average (1 min) {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at "
            "the end: other work on the machine slows every figure alike")
    plain = median(times["kpi"])
    kept_s, model_s, fresh_s = (median(times[name]) for name in ("kept", "model", "fresh"))
    rows = [
        f"| `drivers`, its result kept (the store unchanged: a refresh, the next command) | "
        f"{kept_s:.2f} s | `kpi --by queue` of the same five KPIs and window {plain:.2f} s | "
        f"{kept_s / plain:.2f}x |",
        f"| `drivers`, its topic model kept (the store changed, the texts not): the KPIs "
        f"computed | {model_s:.2f} s | the same `kpi --by queue` | {model_s / plain:.2f}x |",
        f"| `drivers`, nothing kept (topics fitted) | {fresh_s:.2f} s | the same "
        f"`kpi --by queue` | {fresh_s / plain:.2f}x |",
    ]
    if baseline is not None:
        earlier = median(times["baseline"])
        rows += [
            f"| `drivers` of the baseline `{baseline.name}`, its topic model kept | "
            f"{earlier:.2f} s | this checkout, result kept {kept_s:.2f} s | "
            f"{earlier / kept_s:.1f}x slower |",
            f"| (the same) | {earlier:.2f} s | this checkout, model kept {model_s:.2f} s | "
            f"{earlier / model_s:.2f}x |"]
    rows.append(f"| `servicepulse --help` (starting the command alone) | "
                f"{median(times['help']):.2f} s | — | — |")
    return "\n".join([
        "## Contact drivers on the demo", "", f"{machine_line()}; {load}", "",
        f"`servicepulse drivers --format json` on the demo store ({contacts}, "
        f"{document['from']} to {document['to']}): each a new process, median of {runs} "
        "rounds (each round runs every set-up once, in turn); every run printed the same "
        "JSON.", "",
        "| what | median | baseline (same run) | ratio |", "|---|---|---|---|", *rows,
        "", "Its steps in one process:", "",
        "| step | median |", "|---|---|",
        f"| the texts (one query) | {reading:.2f} s |",
        f"| fitting the topics of {len(texts):,} texts | {fitting:.2f} s |",
        f"| the five KPIs per topic (the KPI engine) | {kpis:.2f} s |",
        f"| the store's stamp and the kept result read | {reading_kept * 1000:.1f} ms |",
    ])


def run_insights_bench(texts: int = 5000, runs: int = 3,
                       topic_sizes: tuple[int, ...] = (2000, 10_000, 20_000),
                       embedding_sizes: tuple[int, ...] = (1000, 4000)) -> str:
    lines = ["## Text insights", "", machine_line(), "",
             "| what | median | throughput | baseline (same process) | ratio |",
             "|---|---|---|---|---|"]
    lines += _scoring(texts, runs)
    lines += _import_hook(texts, runs)
    lines += _topics(list(topic_sizes), runs)
    lines += _embeddings(list(embedding_sizes), runs)
    lines += ["", "Language detection (langdetect) is most of the scoring cost; identical "
              "texts are scored once per process (LRU cache), which the runs above disable. "
              "Topic discovery analyses each distinct wording once (texts that differ only "
              "in numbers share one), groups at most 2,500 texts and assigns the rest to the "
              "nearest topic. By sentence embeddings, those 2,500 are encoded by static token "
              "vectors distilled once from the packaged all-MiniLM-L6-v2 (the transformer "
              "itself is too slow for this)."]
    markdown = "\n".join(lines)
    write_section("insights", markdown)
    return markdown
