"""Contact drivers: which contact reasons (topics) bring volume, repeat contacts and low scores.

1. Texts: for each inbound contact created in [from, to) (local dates in the organisation's
   time zone, `to` exclusive), its subject and its first customer message (the earliest event
   by the customer with a body), fetched in one set-based query. A deleted or spam
   interaction is no contact (docs/kpis.md): its text is in no topic and shapes none.
2. Topics: lemmatised words and phrases (TF-IDF + LSA) grouped while alike, or sentence
   embeddings grouped the same way (`method`), see `servicepulse.insights.topics`; a label
   of distinctive words per topic and the texts nearest its centre as examples. The model of
   a set of texts is fitted once and kept, in the process and on disk (`fitted_topics`): the
   page, the API, a refresh and the next command read the same topics without refitting.
3. KPIs per topic through the KPI engine, with its own definitions: the engine runs on a view
   of the store in which each interaction's `queue` holds its topic, grouped by `queue`. Only
   `queue` changes (no KPI reads it except as a grouping), so repeat contacts are still looked
   for among ALL later contacts of the customer, surveys and texts follow their interaction
   into its topic, and nothing stored changes.

The whole result is kept on disk too, for as long as the store is unchanged
(`servicepulse.insights.kept`): a repeated `servicepulse drivers` on an SQLite store that
nothing wrote to reads it, without the texts, the KPI engine or its imports.

`DriversRunner(engine).run(DriversQuery(...))` returns a `DriversResult`; its `as_json()` is the
contract of `servicepulse drivers --format json`:
`{"topics": [{"topic": label, "terms": [...], "contacts": n, "kpis": {name: {...}}}]}`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from threading import Lock
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo

from cachetools import LRUCache, cached
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Connection, Engine, and_, func, or_, select

from servicepulse.insights.topics import (
    DEFAULT_METHOD,
    UNASSIGNED,
    Topic,
    TopicModel,
    discover_topics,
)
from servicepulse.store import tables

DRIVER_KPIS = ("fcr", "aht", "csat", "repeat_contact_rate", "sentiment")
NO_TOPIC = "(no topic)"  # the engine group of interactions outside every topic
# The most topics tried when the number is chosen from the data: the page, the API and
# `servicepulse drivers` all start from it (and from the same default window), so they agree.
DEFAULT_MAX_TOPICS = 25
FITTED_MODELS = 16  # topic models kept per process (one per range and settings)
KEPT_ON_DISK = 64  # and on disk, for the next process


class DriversQuery(BaseModel):
    """Which contacts to model, how (words, or sentence embeddings), and how many topics
    (None: as many as the texts' reasons, at most `max_topics`)."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    from_: date | None = Field(default=None, alias="from")
    to: date | None = None
    method: Literal["words", "embeddings"] = DEFAULT_METHOD
    topics: int | None = Field(default=None, ge=1, le=50)
    max_topics: int = Field(default=DEFAULT_MAX_TOPICS, ge=2, le=50)
    examples: int = Field(default=3, ge=0, le=20)

    @model_validator(mode="after")
    def _check_dates(self) -> DriversQuery:
        if self.from_ and self.to and self.to <= self.from_:
            raise ValueError(f"`to` ({self.to}) must be after `from` ({self.from_}): it is "
                             "exclusive")
        return self


class DriverTopic(BaseModel):
    topic: str  # readable label: the top terms
    terms: list[str]
    contacts: int
    share: float  # % of the contacts that got a topic
    kpis: dict[str, dict[str, Any]]
    examples: list[str] = Field(default_factory=list)  # a few of the topic's texts


class DriversResult(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: date | None = Field(default=None, alias="from")
    to: date | None = None
    contacts: int  # inbound contacts with a text in the range
    unassigned: int  # of those, without a usable word (no topic)
    method: str = DEFAULT_METHOD
    # the mean similarity at which the last two groups merged (None: the number was given)
    similarity: float | None = None
    topics: list[DriverTopic]

    def as_json(self) -> dict[str, Any]:
        return cast(dict[str, Any], self.model_dump(mode="json", by_alias=True))


# --- 1. the texts -----------------------------------------------------------------------


def _range(query: DriversQuery, timezone: str) -> tuple[float | None, float | None]:
    from servicepulse.kpi.sources import local_midnight

    zone = ZoneInfo(timezone)
    start = local_midnight(query.from_, zone) if query.from_ else None
    end = local_midnight(query.to, zone) if query.to else None
    return start, end


def contact_texts(connection: Connection, start: float | None,
                  end: float | None) -> list[tuple[str, str]]:
    """(interaction id, subject + first customer message) of inbound contacts in [start, end);
    deleted and spam interactions are no contacts and are left out."""
    from servicepulse.kpi.sources import NOT_CONTACT_STATUSES

    i, e = tables.interactions, tables.events
    customer_text = and_(or_(e.c.actor == "customer", e.c.kind == "customer_message"),
                         e.c.body.is_not(None), func.trim(e.c.body) != "")
    ranked = (
        select(e.c.interaction_id, e.c.body,
               func.row_number().over(partition_by=e.c.interaction_id,
                                      order_by=(e.c.at, e.c.id)).label("rank"))
        .where(customer_text)
        .subquery()
    )
    query = (
        select(i.c.id, i.c.subject, ranked.c.body)
        .select_from(i.outerjoin(ranked, and_(ranked.c.interaction_id == i.c.id,
                                              ranked.c.rank == 1)))
        .where(i.c.direction == "inbound",
               or_(i.c.status.is_(None), func.lower(i.c.status).not_in(NOT_CONTACT_STATUSES)))
        .order_by(i.c.id)
    )
    if start is not None:
        query = query.where(i.c.created_at >= start)
    if end is not None:
        query = query.where(i.c.created_at < end)
    texts: list[tuple[str, str]] = []
    for row in connection.execute(query):
        parts = [str(part).strip() for part in (row.subject, row.body) if part and part.strip()]
        if parts:
            texts.append((str(row.id), ". ".join(parts)))
    return texts


# --- 3. KPIs per topic through the engine -----------------------------------------------


class _TopicView:
    """An Ibis backend whose `interactions` table carries each interaction's topic as its
    `queue`; everything else is the store's backend unchanged, except what describes the
    store's own tables to the engine: their schema digest, which keys the statements the
    engine keeps across processes (`kpi.compiled_sql`). A statement of the store's tables
    (`kpi --by queue` of the same KPIs and window has the same query shape) is not this
    view's, so the view has no digest: the engine compiles its queries."""

    def __init__(self, backend: Any, assignments: dict[str, str]):
        import ibis

        self._backend = backend
        self._topics = ibis.memtable(
            {"t_id": list(assignments), "t_topic": list(assignments.values())},
            schema={"t_id": "string", "t_topic": "string"})

    def table(self, name: str, *args: Any, **kwargs: Any) -> Any:
        table = self._backend.table(name, *args, **kwargs)
        if name != "interactions":
            return table
        joined = table.left_join(self._topics, table.id == self._topics.t_id)
        return joined.select(*[
            (joined.t_topic.fill_null(NO_TOPIC).name("queue") if column == "queue"
             else joined[column]) for column in table.columns])

    def __getattr__(self, name: str) -> Any:
        from servicepulse.kpi import analytical

        if name in analytical.STORE_MARKS:  # this view's tables are not the store's
            raise AttributeError(name)
        return getattr(self._backend, name)


@contextmanager
def _kpi_backend(engine: Engine) -> Iterator[Any]:
    from servicepulse.kpi.analytical import analytical_store

    with analytical_store(engine) as backend:
        yield backend


def topic_kpis(engine: Engine, assignments: dict[str, str], query: DriversQuery,
               settings: Any = None) -> dict[str, dict[str, Any]]:
    """The engine's DRIVER_KPIS per topic label: {label: {kpi: result}}."""
    from servicepulse.kpi.engine import run_on_backend
    from servicepulse.kpi.query import KpiQuery

    kpi_query = KpiQuery.model_validate({
        "by": ["queue"], "period": "all", "from": query.from_, "to": query.to,
        "kpis": list(DRIVER_KPIS)})
    with _kpi_backend(engine) as backend:
        result = run_on_backend(cast(Any, _TopicView(backend, assignments)), kpi_query,
                                settings)
    # each topic's figures as the drivers' answer (a JSON model) holds them
    return {str(row.group.get("queue")): {name: figure.to_json()
                                          for name, figure in row.figures.items()}
            for row in result.rows}


# --- the runner -------------------------------------------------------------------------


def _fingerprint(texts: list[tuple[str, str]]) -> str:
    import hashlib

    digest = hashlib.sha256()
    for interaction_id, text in texts:
        digest.update(f"{interaction_id}\x1f{text}\x1e".encode())
    return digest.hexdigest()


# The models of this process, most recently used kept: a library LRU cache (cachetools) with
# a lock, around the disk cache that the next process reads (`_kept_model`).
_fitted: LRUCache[tuple[Any, ...], TopicModel] = LRUCache(FITTED_MODELS)


def _model_path(key: tuple[Any, ...]) -> Path:
    """The file of a kept model: named by the key and by the code that fits models (a change
    to topics.py or embeddings.py fits models again)."""
    import hashlib

    from servicepulse.insights import embeddings, topics
    from servicepulse.insights.kept import kept_path

    digest = hashlib.sha256(repr(key).encode())
    for module in (topics, embeddings):
        digest.update(Path(str(module.__file__)).read_bytes())
    return kept_path("topic-models", digest.hexdigest(), ".npz")


def _read_model(path: Path, texts: int) -> TopicModel | None:
    """A kept model, or None when there is none (or it is unreadable, or not of these texts)."""
    import json

    import numpy as np

    try:
        with np.load(path) as stored:
            assignments = np.asarray(stored["assignments"], dtype=np.int64)
            about = json.loads(str(stored["topics"]))
    except (OSError, ValueError, KeyError):
        return None
    if len(assignments) != texts:
        return None
    return TopicModel([Topic(**topic) for topic in about["topics"]], assignments,
                      about["stability"])


def _keep_model(path: Path, model: TopicModel) -> None:
    """On disk for the next process; no writable cache: kept in this process only."""
    import json
    from dataclasses import asdict

    import numpy as np

    from servicepulse.insights.kept import keep

    about = json.dumps({"topics": [asdict(topic) for topic in model.topics],
                        "stability": model.stability})
    keep(path, lambda file: np.savez(file, assignments=model.assignments,
                                     topics=np.array(about)), KEPT_ON_DISK)


@cached(_fitted, key=lambda key, texts, query: key, lock=Lock())
def _kept_model(key: tuple[Any, ...], texts: list[tuple[str, str]],
                query: DriversQuery) -> TopicModel:
    """The model kept on disk under `key`, else fitted now and kept."""
    path = _model_path(key)
    model = _read_model(path, len(texts))
    if model is None:
        model = discover_topics([text for _, text in texts], query.topics, query.max_topics,
                                query.method, query.examples)
        _keep_model(path, model)
    return model


def fitted_topics(texts: list[tuple[str, str]], query: DriversQuery) -> TopicModel:
    """The topic model of these texts with the query's settings: fitted once, then kept, in
    this process (the last FITTED_MODELS) and on disk (`servicepulse.insights.kept`), so the
    page, the API, a refresh and the next `servicepulse drivers` read the same topics
    without fitting again. Keyed by the texts themselves: new or changed contacts in the
    range give a new model."""
    key = (_fingerprint(texts), query.method, query.topics, query.max_topics, query.examples)
    return cast(TopicModel, _kept_model(key, texts, query))


# --- kept results -----------------------------------------------------------------------

RESULT_FORMAT = 1  # bump when DriversResult changes shape: kept results are computed again


def _result_path(query: DriversQuery, stamp: str, settings: Any, today: date | None) -> Path:
    """The file of the result of `query` on the store in state `stamp`, with these KPI
    settings and this code; `today`: the local date, when it decides the window."""
    from servicepulse.insights.kept import code_digest, kept_path
    from servicepulse.kpi.settings import kpi_settings

    key = repr((RESULT_FORMAT, stamp, sorted(query.model_dump(mode="json").items()), today,
                repr(kpi_settings(settings)), code_digest()))
    return kept_path("drivers-results", key, ".json")


def _read_result(path: Path) -> DriversResult | None:
    try:
        return DriversResult.model_validate_json(path.read_bytes())
    except (OSError, ValueError):  # none, or unreadable (pydantic's errors are ValueErrors)
        return None


def _keep_result(path: Path, result: DriversResult) -> None:
    from servicepulse.insights.kept import RESULTS_KEPT, keep

    keep(path, lambda file: file.write(result.model_dump_json(by_alias=True).encode()),
         RESULTS_KEPT)


class DriversRunner:
    """Discover contact drivers and their KPIs; the CLI and the web service call `run`."""

    def __init__(self, engine: Engine, settings: Any = None):
        self.engine = engine
        self.settings = settings

    def _timezone(self) -> str:
        from servicepulse.kpi.settings import kpi_settings

        return kpi_settings(self.settings).timezone

    def run(self, query: DriversQuery,
            window: Callable[[], tuple[date, date]] | None = None) -> DriversResult:
        """The drivers of `query`: the result kept for the store as it is now, else
        computed (and kept when the store did not change meanwhile).

        `window`: the days to look at when the query leaves them open (the pages' default
        window, which reads the store and loads the web's modules): called only when no
        result is kept, since a kept one is looked up by the query as asked and today's
        date (the store unchanged, they decide the window; the window's rule itself, in the
        web layer, is not part of the key: a new rule shows from the next day, or after the
        next write to the store)."""
        from servicepulse.insights.kept import store_stamp

        if query.method == "embeddings":
            from servicepulse.insights.embeddings import check_installed

            check_installed()  # says what to install before any work is done
        stamp = store_stamp(self.engine)
        path = None
        if stamp is not None:
            today = self._today() if window is not None else None
            path = _result_path(query, stamp, self.settings, today)
            kept = _read_result(path)
            if kept is not None:
                return kept
        if window is not None:
            first, last = window()
            query = DriversQuery.model_validate(
                {**query.model_dump(by_alias=True), "from": first, "to": last})
        result = self.compute(query)
        if path is not None and store_stamp(self.engine) == stamp:
            _keep_result(path, result)
        return result

    def _today(self) -> date:
        from datetime import datetime

        return datetime.now(ZoneInfo(self._timezone())).date()

    def compute(self, query: DriversQuery) -> DriversResult:
        """The drivers of `query` from the store (the topic model may be kept)."""
        start, end = _range(query, self._timezone())
        with self.engine.connect() as connection:
            texts = contact_texts(connection, start, end)
        model = fitted_topics(texts, query)
        labels = {topic.index: topic.label for topic in model.topics}
        # Two topics could share a label; the engine groups by label, so keep them apart.
        seen: dict[str, int] = {}
        for index, label in sorted(labels.items()):
            seen[label] = seen.get(label, 0) + 1
            if seen[label] > 1:
                labels[index] = f"{label} ({seen[label]})"
        assignments = {interaction_id: labels[int(topic)]
                       for (interaction_id, _), topic in zip(texts, model.assignments,
                                                            strict=True)
                       if topic != UNASSIGNED}
        kpis = topic_kpis(self.engine, assignments, query, self.settings) if assignments else {}
        assigned = len(assignments)
        sizes = Counter(int(topic) for topic in model.assignments if topic != UNASSIGNED)
        topics = []
        for topic in model.topics:
            label = labels[topic.index]
            topics.append(DriverTopic(
                topic=label, terms=topic.terms, contacts=sizes[topic.index],
                share=round(100 * sizes[topic.index] / assigned, 2),
                kpis={name: kpis.get(label, {}).get(name, {"value": None, "n": 0})
                      for name in DRIVER_KPIS},
                examples=[texts[row][1] for row in topic.examples],
            ))
        topics.sort(key=lambda item: (-item.contacts, item.topic))
        return DriversResult.model_validate({
            "from": query.from_, "to": query.to, "contacts": len(texts),
            "unassigned": len(texts) - assigned, "method": query.method,
            "similarity": model.stability, "topics": topics,
        })
