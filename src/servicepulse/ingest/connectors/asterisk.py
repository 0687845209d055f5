"""Asterisk: the call-queue log (`queue_log`) and the CDR CSV (`Master.csv`).

queue_log (one event a line, `epoch|callid|queue|agent|EVENT|data1|data2|...`) becomes
- one phone `interaction` per queue entry of a call: created_at = ENTERQUEUE, answered_at =
  CONNECT, talk_s = calltime of COMPLETEAGENT/COMPLETECALLER/TRANSFER, abandoned_at for
  ABANDON, EXITEMPTY, EXITWITHTIMEOUT and EXITWITHKEY. `holdtime` in CONNECT/COMPLETE* is the
  caller's wait in the queue (answered_at − created_at), never hold during the call;
- `agent_state` periods per queue member: available while logged in (AGENTLOGIN or ADDMEMBER
  until AGENTLOGOFF or the last REMOVEMEMBER), a pause state while paused (PAUSE … UNPAUSE, the
  reason mapped to break/training/meeting/after_call_work), handling from CONNECT to the end of
  the call.

It streams: a call is emitted when it ends, an agent state when it changes; calls and states
still open at the end of the file are emitted open, and a later, longer log completes them
under the same ids (so re-importing a grown log only updates what changed).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from servicepulse.ingest.connectors.base import (
    BadSourceRow,
    Connector,
    ConnectorOptions,
    MappingError,
    damage_row,
    error_row,
    iso,
    iso_epoch,
    load_mapping_file,
    open_text,
    record_row,
    zone,
)
from servicepulse.ingest.sources import SourceRow

DEFAULT_PREFIX = "ast-"

# Events that end a caller's stay in the queue unanswered (docs/records.md: abandoned).
ABANDON_EVENTS = {"ABANDON", "EXITEMPTY", "EXITWITHTIMEOUT", "EXITWITHKEY"}
COMPLETE_EVENTS = {"COMPLETEAGENT", "COMPLETECALLER"}
# TRANSFER (Asterisk ≤ 11); BLINDTRANSFER / ATTENDEDTRANSFER (12+) with the same tail fields.
TRANSFER_EVENTS = {"TRANSFER", "BLINDTRANSFER", "ATTENDEDTRANSFER"}
MEMBER_EVENTS = {"ADDMEMBER", "REMOVEMEMBER", "PAUSE", "UNPAUSE", "PAUSEALL", "UNPAUSEALL",
                 "AGENTLOGIN", "AGENTLOGOFF", "AGENTCALLBACKLOGIN", "AGENTCALLBACKLOGOFF"}
# Known events that change nothing ServicePulse records.
INFORMATIONAL_EVENTS = {"RINGNOANSWER", "RINGCANCELED", "QUEUESTART", "CONFIGRELOAD", "DID",
                        "INFO", "SYSCOMPAT", "AGENTDUMP", "PRESENCE", "ENTERQUEUE_INFO"}
KNOWN_EVENTS = ({"ENTERQUEUE", "CONNECT"} | ABANDON_EVENTS | COMPLETE_EVENTS | TRANSFER_EVENTS
                | MEMBER_EVENTS | INFORMATIONAL_EVENTS)

# Default pause reason -> agent state (first matching word wins; anything else is a break).
PAUSE_WORDS = (("train", "training"), ("meet", "meeting"), ("coach", "training"),
               ("acw", "after_call_work"), ("wrap", "after_call_work"),
               ("after", "after_call_work"), ("lunch", "break"), ("break", "break"))
AGENT_STATES = {"available", "handling", "after_call_work", "break", "training", "meeting",
                "offline"}

_CALLER = re.compile(r"^\+?[0-9][0-9 ()./-]*$")


@dataclass(frozen=True)
class AsteriskSettings:
    prefix: str
    agents: dict[str, str]  # queue member / channel -> agent id
    pause_reasons: dict[str, str]  # exact reason (lower case) -> agent state
    outbound_contexts: frozenset[str]
    timezone: ZoneInfo | None

    def agent_id(self, member: str) -> str | None:
        member = member.strip()
        if not member or member.upper() == "NONE":
            return None
        return self.agents.get(member) or f"{self.prefix}{member}"

    def pause_state(self, reason: str) -> str:
        key = reason.strip().lower()
        if key in self.pause_reasons:
            return self.pause_reasons[key]
        for word, state in PAUSE_WORDS:
            if word in key:
                return state
        return "break"


def settings_from(options: ConnectorOptions) -> AsteriskSettings:
    raw = load_mapping_file(options.mapping)
    pause = {str(k).lower(): str(v) for k, v in dict(raw.get("pause_reasons", {})).items()}
    for reason, state in pause.items():
        if state not in AGENT_STATES:
            raise MappingError(f"{options.mapping}: [pause_reasons] {reason!r} = {state!r} is "
                               f"not an agent state; use one of {', '.join(sorted(AGENT_STATES))}")
    cdr = dict(raw.get("cdr", {}))
    return AsteriskSettings(
        prefix=options.id_prefix or str(raw.get("id_prefix", DEFAULT_PREFIX)),
        agents={str(k): str(v) for k, v in dict(raw.get("agents", {})).items()},
        pause_reasons=pause,
        outbound_contexts=frozenset(str(c) for c in cdr.get("outbound_contexts", [])),
        timezone=zone(options.timezone or raw.get("timezone")),
    )


def customer_from_caller(callerid: str) -> str | None:
    """`tel:<number>` for a real number; None for anonymous, unknown or a name."""
    number = callerid.strip().strip('"')
    if "<" in number and number.endswith(">"):  # "Name" <5551234>
        number = number[number.rindex("<") + 1:-1]
    if not _CALLER.match(number):
        return None
    return "tel:" + re.sub(r"[ ()./-]", "", number)


# -- queue_log --------------------------------------------------------------------------------


@dataclass
class _Call:
    id: str
    queue: str
    first_line: int
    lines: list[str] = field(default_factory=list)
    created: float | None = None
    caller: str | None = None
    answered: float | None = None
    agent: str | None = None
    wait: float | None = None  # holdtime: queue wait, to derive created_at if ENTERQUEUE is gone
    talk: float | None = None
    ended: float | None = None
    abandoned: float | None = None
    transfers: int = 0
    status: str = "queued"


@dataclass
class _Member:
    logged_in: bool = False
    queues: set[str] = field(default_factory=set)
    pause: str | None = None  # agent state while paused
    calls: set[str] = field(default_factory=set)
    state: str | None = None
    since: float = 0.0
    line: int = 0
    raw: str = ""


def _number(value: str, what: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{what} {value!r} is not a number") from None
    if number < 0 or number != number:
        raise ValueError(f"{what} {value!r} is negative")
    return number


def _field(data: list[str], index: int, what: str) -> str:
    if len(data) <= index or data[index].strip() == "":
        raise ValueError(f"missing {what} (data field {index + 1})")
    return data[index].strip()


class QueueLogReader:
    def __init__(self, path: Path, settings: AsteriskSettings) -> None:
        self.path = path
        self.settings = settings
        self.calls: dict[str, _Call] = {}
        self.entries: dict[str, int] = {}  # callid -> how many queue entries so far
        self.members: dict[str, _Member] = {}

    # -- calls --------------------------------------------------------------------------------

    def _call_id(self, callid: str) -> str:
        count = self.entries.get(callid, 0)
        suffix = "" if count <= 1 else f"-{count}"
        return f"{self.settings.prefix}{callid}{suffix}"

    def _call(self, callid: str, queue: str, line: int, start_new: bool) -> _Call:
        call = self.calls.get(callid)
        if call is None or start_new:
            self.entries[callid] = self.entries.get(callid, 0) + 1
            call = _Call(self._call_id(callid), queue, line)
            self.calls[callid] = call
        return call

    def _interaction(self, call: _Call) -> SourceRow:
        created = call.created
        if created is None:
            # ENTERQUEUE not in this file (rotated log): the wait the later events state
            # puts the caller's arrival back in place.
            if call.answered is not None and call.wait is not None:
                created = call.answered - call.wait
            elif call.abandoned is not None and call.wait is not None:
                created = call.abandoned - call.wait
        raw = "\n".join(call.lines)
        if created is None:
            return error_row(self.path, call.first_line, raw, "created_at",
                             "the call's ENTERQUEUE is not in this log and no later event states "
                             "its queue wait; import the log that holds its ENTERQUEUE line",
                             "interaction", call.id)
        data: dict[str, Any] = {
            "type": "interaction", "id": call.id, "channel": "phone", "direction": "inbound",
            "created_at": iso_epoch(created), "queue": call.queue,
            "customer_id": customer_from_caller(call.caller) if call.caller else None,
            "agent_id": self.settings.agent_id(call.agent) if call.agent else None,
            "answered_at": iso_epoch(call.answered) if call.answered is not None else None,
            "abandoned_at": iso_epoch(call.abandoned) if call.abandoned is not None else None,
            "talk_s": call.talk,
            # calltime runs from CONNECT to hang-up, so it holds any hold during the call;
            # wrap-up is not logged: handle time is the talk time as logged.
            "handle_s": call.talk,
            "transfers": call.transfers,
            "status": call.status,
        }
        if call.ended is not None and call.abandoned is None:
            data["resolved_at"] = iso_epoch(call.ended)
        return record_row(self.path, call.first_line, raw, data)

    # -- agent states -------------------------------------------------------------------------

    def _member(self, name: str) -> _Member:
        return self.members.setdefault(name, _Member())

    def _derived_state(self, member: _Member) -> str | None:
        if member.calls:
            return "handling"
        if not (member.logged_in or member.queues or member.pause):
            return None  # logged off: no state record (time outside every state is offline)
        return member.pause or "available"

    def _update_state(self, name: str, member: _Member, at: float, line: int,
                      raw: str) -> Iterator[SourceRow]:
        new = self._derived_state(member)
        if new == member.state:
            return
        if member.state is not None and at > member.since:
            yield self._state_row(name, member, at)
        member.state, member.since, member.line, member.raw = new, at, line, raw

    def _state_row(self, name: str, member: _Member, end: float | None) -> SourceRow:
        agent_id = self.settings.agent_id(name)
        data = {
            "type": "agent_state",
            "id": f"{agent_id}@{member.since:.0f}",
            "agent_id": agent_id,
            "state": member.state,
            "start": iso_epoch(member.since),
            "end": iso_epoch(end) if end is not None else None,
        }
        return record_row(self.path, member.line, member.raw, data)

    # -- lines --------------------------------------------------------------------------------

    def rows(self) -> Iterator[SourceRow]:
        try:
            handle = open_text(self.path)
        except OSError as exc:
            yield error_row(self.path, None, "", None,
                            f"cannot read the file: {exc.strerror or exc}")
            return
        with handle:
            for number, text in enumerate(handle, start=1):
                line = text.rstrip("\r\n")
                if not line.strip():
                    continue
                try:
                    yield from self._line(number, line)
                except BadSourceRow as bad:
                    yield error_row(self.path, number, line, bad.field_name, bad.reason)
                except ValueError as exc:
                    parts = line.split("|")
                    where = f"{parts[4].strip()} line: " if len(parts) >= 5 else ""
                    yield error_row(self.path, number, line, None, f"{where}{exc}")
        yield from damage_row(self.path, handle)
        # still open at the end of the log: emitted open, completed by a later, longer log
        for call in sorted(self.calls.values(), key=lambda c: c.first_line):
            yield self._interaction(call)
        for name, member in sorted(self.members.items()):
            if member.state is not None:
                yield self._state_row(name, member, None)

    def _line(self, number: int, line: str) -> Iterator[SourceRow]:
        parts = line.split("|")
        if len(parts) < 5:
            raise ValueError(f"queue_log line has {len(parts)} field(s); expected at least 5 "
                             "(epoch|callid|queue|agent|EVENT|data...)")
        stamp, callid, queue, agent, event, *data = (p.strip() for p in parts)
        at = _number(stamp, "time")
        if event not in KNOWN_EVENTS:
            raise BadSourceRow("event", f"unknown queue_log event {event!r}; known events: "
                               f"{', '.join(sorted(KNOWN_EVENTS))}")
        if event in MEMBER_EVENTS:
            yield from self._member_event(number, line, at, queue, agent, event, data)
            return
        if event in INFORMATIONAL_EVENTS:
            return
        if not callid or callid.upper() == "NONE":
            raise ValueError(f"{event} without a call id")
        if event == "ENTERQUEUE":
            previous = self.calls.get(callid)
            call = self._call(callid, queue, number, start_new=previous is not None)
            if previous is not None:
                # the same call enters a queue again before the first entry ended: keep both
                yield self._interaction(previous)
            call.created = at
            call.caller = data[1] if len(data) > 1 else None
            call.lines.append(line)
            return
        call = self._call(callid, queue, number, start_new=False)
        call.lines.append(line)
        if event == "CONNECT":
            call.wait = _number(_field(data, 0, "holdtime"), "holdtime")
            call.answered = at
            call.agent = agent
            call.status = "answered"
            member = self._member(agent)
            member.calls.add(callid)
            yield from self._update_state(agent, member, at, number, line)
            return
        if event in ABANDON_EVENTS:
            index = 3 if event == "EXITWITHKEY" else 2
            call.wait = _number(_field(data, index, "waittime"), "waittime")
            call.abandoned = call.ended = at
            call.status = "abandoned"
        elif event in COMPLETE_EVENTS or event in TRANSFER_EVENTS:
            base = 0 if event in COMPLETE_EVENTS else 2
            if event == "ATTENDEDTRANSFER":
                while data and not data[-1]:
                    data.pop()  # a trailing '|' must not shift the fields counted from the end
                base = len(data) - 3  # method|…|holdtime|calltime|origposition
            wait = _number(_field(data, base, "holdtime"), "holdtime")
            talk = _number(_field(data, base + 1, "calltime"), "calltime")
            call.talk = talk
            call.ended = at
            if call.answered is None:  # CONNECT line missing or in an earlier log
                call.answered = at - talk
                call.wait = wait
                call.agent = agent
            if event in TRANSFER_EVENTS:
                call.transfers += 1
                call.status = "transferred"
            else:
                call.status = "completed"
            member = self._member(call.agent or agent)
            member.calls.discard(callid)
            yield from self._update_state(call.agent or agent, member, at, number, line)
        del self.calls[callid]
        yield self._interaction(call)

    def _member_event(self, number: int, line: str, at: float, queue: str, agent: str,
                      event: str, data: list[str]) -> Iterator[SourceRow]:
        if not agent or agent.upper() == "NONE":
            raise ValueError(f"{event} without a queue member (agent field)")
        member = self._member(agent)
        if event in ("ADDMEMBER",):
            member.queues.add(queue)
        elif event == "REMOVEMEMBER":
            member.queues.discard(queue)
        elif event in ("AGENTLOGIN", "AGENTCALLBACKLOGIN"):
            member.logged_in = True
        elif event in ("AGENTLOGOFF", "AGENTCALLBACKLOGOFF"):
            member.logged_in = False
            member.queues.clear()
            member.pause = None
        elif event in ("PAUSE", "PAUSEALL"):
            member.pause = self.settings.pause_state(data[0] if data else "")
        elif event in ("UNPAUSE", "UNPAUSEALL"):
            member.pause = None
        yield from self._update_state(agent, member, at, number, line)


def read_queue_log(paths: Sequence[Path], options: ConnectorOptions) -> Iterator[SourceRow]:
    settings = settings_from(options)  # now: a bad settings file fails before any row
    return _queue_log_rows(paths, settings)


def _queue_log_rows(paths: Sequence[Path], settings: AsteriskSettings) -> Iterator[SourceRow]:
    for path in paths:
        yield from QueueLogReader(path, settings).rows()


# -- CDR (Master.csv) -------------------------------------------------------------------------

CDR_COLUMNS = ("accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel",
               "lastapp", "lastdata", "start", "answer", "end", "duration", "billsec",
               "disposition", "amaflags", "uniqueid", "userfield")
_CHANNEL_SUFFIX = re.compile(r"(-[0-9a-fA-F]+)?(;\d+)?$")


def _cdr_time(value: str, timezone: ZoneInfo | None, what: str) -> datetime | None:
    if not value.strip():
        return None
    try:
        moment = datetime.strptime(value.strip(), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise ValueError(f"{what} {value!r} is not YYYY-MM-DD HH:MM:SS") from None
    # cdr.conf writes local time unless usegmtime=yes: the timezone option says which
    return moment.replace(tzinfo=timezone or UTC)


def _member_of(channel: str) -> str | None:
    """`SIP/1001-0000002a` -> `SIP/1001` (the device, without the call's suffix)."""
    channel = channel.strip()
    if not channel:
        return None
    return _CHANNEL_SUFFIX.sub("", channel) or None


def _cdr_row(path: Path, number: int, raw: str, values: list[str],
             settings: AsteriskSettings) -> SourceRow:
    if len(values) < 16:
        return error_row(path, number, raw, None,
                         f"CDR row has {len(values)} column(s); Master.csv has at least 16 "
                         f"({', '.join(CDR_COLUMNS[:16])})")
    row = dict(zip(CDR_COLUMNS, values, strict=False))
    try:
        start = _cdr_time(row["start"], settings.timezone, "start")
        answer = _cdr_time(row["answer"], settings.timezone, "answer")
        end = _cdr_time(row["end"], settings.timezone, "end")
        billsec = _number(row["billsec"] or "0", "billsec")
    except ValueError as exc:
        return error_row(path, number, raw, None, str(exc), "interaction")
    if start is None:
        return error_row(path, number, raw, "start", "missing call start time", "interaction")
    uniqueid = row.get("uniqueid", "").strip()
    record_id = (f"{settings.prefix}cdr-{uniqueid}" if uniqueid
                 else f"{settings.prefix}cdr-{row['src']}-{start.timestamp():.0f}")
    disposition = row["disposition"].strip().upper()
    outbound = row["dcontext"].strip() in settings.outbound_contexts
    in_queue = row["lastapp"].strip().lower() == "queue"
    answered = disposition == "ANSWERED" and answer is not None
    # the agent's device: the called channel of an inbound call, the calling one of an outbound
    member = _member_of(row["channel"] if outbound else row["dstchannel"])
    data: dict[str, Any] = {
        "type": "interaction", "id": record_id, "channel": "phone",
        "direction": "outbound" if outbound else "inbound",
        "created_at": iso(start),
        "customer_id": customer_from_caller(row["dst"] if outbound else row["src"]),
        "agent_id": settings.agent_id(member) if member and answered else None,
        "queue": row["lastdata"].split(",")[0].strip() or None if in_queue else None,
        "status": disposition.lower().replace(" ", "_") or None,
    }
    if answered:
        # For a Queue call the channel is answered on entering the queue, so answer and
        # billsec include the queue wait: no answer time or talk time from the CDR then.
        if not in_queue:
            data["answered_at"] = iso(answer)  # type: ignore[arg-type]
            data["talk_s"] = billsec
            data["handle_s"] = billsec
        data["resolved_at"] = iso(end) if end is not None else None
    elif disposition == "NO ANSWER" and not outbound:
        data["abandoned_at"] = iso(end) if end is not None else None
    return record_row(path, number, raw, data)


def read_cdr(paths: Sequence[Path], options: ConnectorOptions) -> Iterator[SourceRow]:
    settings = settings_from(options)  # now: a bad settings file fails before any row
    return _cdr_rows(paths, settings)


def _cdr_rows(paths: Sequence[Path], settings: AsteriskSettings) -> Iterator[SourceRow]:
    for path in paths:
        try:
            handle = open_text(path)
        except OSError as exc:
            yield error_row(path, None, "", None, f"cannot read the file: {exc.strerror or exc}")
            continue
        with handle:
            for number, values in enumerate(csv.reader(handle), start=1):
                if not values or not any(v.strip() for v in values):
                    continue
                if number == 1 and values[0].strip().lower() == "accountcode":
                    continue  # a header row some tools add
                buffer = io.StringIO()
                csv.writer(buffer, lineterminator="").writerow(values)
                raw = buffer.getvalue()
                yield _cdr_row(path, number, raw, values, settings)
        yield from damage_row(path, handle)


QUEUE_LOG = Connector(
    "asterisk",
    "Asterisk queue_log: phone interactions (wait, talk, abandons, transfers) and agent states",
    read_queue_log,
)
CDR = Connector(
    "asterisk-cdr",
    "Asterisk CDR CSV (Master.csv): one phone interaction per call record",
    read_cdr,
)
