"""Executing TwiML voice verbs one at a time, as Twilio does, for a ScriptedCall.

Each verb returns the next step: go on, stop for the caller, fetch a document, or end.
What the caller heard and what happened is kept in a CallLog that tests read.
"""

import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .ids import new_sid
from .twiml import GatherSpec, RecordSpec, TwimlError, as_int, resolve_url, text_of

DIAL_NOUNS = ("Number", "Client", "Queue", "Sip", "Conference")
PROMPT_VERBS = ("Say", "Play", "Pause")


@dataclass(frozen=True)
class DialOutcome:
    status: str = "completed"  # DialCallStatus: completed, busy, no-answer, failed, canceled
    duration: int = 30


@dataclass(frozen=True)
class Fetch:
    url: str
    method: str = "POST"
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class End:
    status: str


@dataclass(frozen=True)
class Pending:
    """What the call waits for: gather | record | queue | stream | hold."""

    kind: str
    action: str | None = None
    method: str = "POST"
    gather: GatherSpec | None = None
    record: RecordSpec | None = None
    recording_status_callback: str | None = None


CONTINUE = "continue"
STOP = "stop"
Step = Fetch | End | TwimlError | str


@dataclass
class CallLog:
    """What the caller heard and what the call did, in order."""

    prompts: list[str] = field(default_factory=list)
    new_prompts: list[str] = field(default_factory=list)
    transcript: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, object]] = field(default_factory=list)
    dialed: list[str] = field(default_factory=list)
    streams: list[dict[str, Any]] = field(default_factory=list)
    queue: str | None = None
    simulated_seconds: int = 0  # pauses, silences and recordings take no real time here

    def event(self, kind: str, **fields: Any) -> None:
        self.transcript.append({"type": kind, **fields})


class VerbRunner:
    """The document being executed: its URL, the verbs left, and what awaits the caller."""

    def __init__(
        self,
        log: CallLog,
        *,
        dial_outcome: Callable[[str], DialOutcome],
        answer: Callable[[], None],
        is_answered: Callable[[], bool],
        on_stream: Callable[[str, dict[str, Any]], None] = lambda how, info: None,
    ) -> None:
        self._log = log
        self._on_stream = on_stream
        self._dial_outcome = dial_outcome
        self._answer = answer
        self._is_answered = is_answered
        self.doc_url: str | None = None
        self.verbs: deque[ET.Element] = deque()
        self.pending: Pending | None = None

    def load(self, root: ET.Element, url: str | None) -> None:
        self.doc_url = url
        self.verbs = deque(root)
        self.pending = None

    def next(self) -> Step:
        """Execute the next verb of the document."""
        verb = self.verbs.popleft()
        handler = self._HANDLERS.get(verb.tag)
        if handler is None:
            return TwimlError(
                12200, f"Schema validation warning: unknown verb <{verb.tag}>", self.doc_url
            )
        if verb.tag != "Reject":
            self._answer()  # any verb but <Reject> answers the call
        try:
            return handler(self, verb)
        except TwimlError as error:
            return error

    def empty_gather(self, pending: Pending) -> Step:
        assert pending.gather is not None
        if pending.gather.action_on_empty_result:
            return Fetch(pending.action or "", pending.method)  # no Digits at all
        return CONTINUE  # Twilio goes on with the verb after the Gather

    def _resolve(self, url: str | None) -> str:
        return resolve_url(self.doc_url, url or self.doc_url or "")

    def _say(self, verb: ET.Element) -> Step:
        text = text_of(verb)
        self._log.prompts.append(text)
        self._log.new_prompts.append(text)
        self._log.event(
            "say",
            text=text,
            language=verb.get("language", "en-US"),
            voice=verb.get("voice"),
            loop=verb.get("loop", "1"),
        )
        return CONTINUE

    def _play(self, verb: ET.Element) -> Step:
        self._log.event(
            "play", url=text_of(verb), loop=verb.get("loop", "1"), digits=verb.get("digits")
        )
        return CONTINUE

    def _pause(self, verb: ET.Element) -> Step:
        length = as_int(verb.get("length"), 1) or 0
        self._log.simulated_seconds += length
        self._log.event("pause", length=length)
        return CONTINUE

    def _gather(self, verb: ET.Element) -> Step:
        spec = GatherSpec.of(verb)
        action = self._resolve(spec.action)
        for child in verb:
            if child.tag not in PROMPT_VERBS:
                raise TwimlError(12200, f"<{child.tag}> cannot be nested in <Gather>", self.doc_url)
            self._HANDLERS[child.tag](self, child)
        self._log.event("gather", **spec.as_dict() | {"action": action})
        self.pending = Pending("gather", action, spec.method, gather=spec)
        return STOP

    def _record(self, verb: ET.Element) -> Step:
        spec = RecordSpec.of(verb)
        action = self._resolve(spec.action)
        callback = spec.recording_status_callback
        self._log.event("record", **spec.as_dict() | {"action": action})
        self.pending = Pending(
            "record",
            action,
            spec.method,
            record=spec,
            recording_status_callback=resolve_url(self.doc_url, callback) if callback else None,
        )
        return STOP

    def _redirect(self, verb: ET.Element) -> Step:
        url = resolve_url(self.doc_url, text_of(verb))
        method = verb.get("method", "POST").upper()
        self._log.event("redirect", url=url, method=method)
        return Fetch(url, method)

    def _hangup(self, verb: ET.Element) -> Step:
        self._log.event("hangup")
        return End("completed")

    def _reject(self, verb: ET.Element) -> Step:
        reason = verb.get("reason", "rejected")
        self._log.event("reject", reason=reason)
        if self._is_answered():
            return End("completed")
        # Not answered: Twilio ends the call busy or no-answer, depending on the reason.
        return End("busy" if reason == "busy" else "no-answer")

    def _dial(self, verb: ET.Element) -> Step:
        nouns = [(child.tag, text_of(child)) for child in verb if child.tag in DIAL_NOUNS]
        nouns = nouns or [("Number", text_of(verb))]
        targets = [target for _, target in nouns]
        outcome = self._dial_outcome(targets[0])
        self._log.dialed.extend(targets)
        self._log.event(
            "dial",
            targets=targets,
            nouns=[tag for tag, _ in nouns],
            action=verb.get("action"),
            callerId=verb.get("callerId"),
            timeout=verb.get("timeout", "30"),
            status=outcome.status,
            duration=outcome.duration,
        )
        if not verb.get("action"):
            return CONTINUE  # without an action Twilio goes on with the next verb
        params = {
            "DialCallStatus": outcome.status,
            "DialCallSid": new_sid("CA"),
            "DialBridged": "true" if outcome.status == "completed" else "false",
        }
        if outcome.status == "completed":
            params["DialCallDuration"] = str(outcome.duration)
            self._log.simulated_seconds += outcome.duration
        return Fetch(self._resolve(verb.get("action")), verb.get("method", "POST").upper(), params)

    def _enqueue(self, verb: ET.Element) -> Step:
        self._log.queue = text_of(verb)
        action = verb.get("action")
        self._log.event(
            "enqueue", queue=self._log.queue, action=action, waitUrl=verb.get("waitUrl")
        )
        resolved = resolve_url(self.doc_url, action) if action else None
        self.pending = Pending("queue", resolved, verb.get("method", "POST").upper())
        return STOP

    def _start(self, verb: ET.Element) -> Step:
        streams = [_stream_info(child, "start") for child in verb]
        self._log.streams.extend(streams)
        self._log.event("start", streams=streams)
        for stream in streams:
            self._on_stream("start", stream | {"url": resolve_url(self.doc_url, stream["url"])})
        return CONTINUE

    def _connect(self, verb: ET.Element) -> Step:
        streams = [_stream_info(child, "connect") for child in verb]
        self._log.streams.extend(streams)
        action = verb.get("action")
        self._log.event("connect", action=action, streams=streams)
        resolved = resolve_url(self.doc_url, action) if action else None
        self.pending = Pending("stream", resolved, verb.get("method", "POST").upper())
        return STOP

    def _stop(self, verb: ET.Element) -> Step:
        names = [child.get("name") for child in verb]
        self._log.event("stop", streams=names)
        for name in names:
            self._on_stream("stop", {"name": name})
        return CONTINUE

    _HANDLERS: dict[str, Callable[["VerbRunner", ET.Element], Step]] = {
        "Say": _say,
        "Play": _play,
        "Pause": _pause,
        "Gather": _gather,
        "Record": _record,
        "Redirect": _redirect,
        "Hangup": _hangup,
        "Reject": _reject,
        "Dial": _dial,
        "Enqueue": _enqueue,
        "Start": _start,
        "Connect": _connect,
        "Stop": _stop,
    }


def _stream_info(element: ET.Element, how: str) -> dict[str, Any]:
    return {
        "how": how,
        "noun": element.tag,
        "url": element.get("url"),
        "name": element.get("name"),
        "track": element.get("track"),
        "parameters": {p.get("name"): p.get("value") for p in element.iter("Parameter")},
    }
