"""A simulated call: it posts signed webhooks and interprets the TwiML answered, like Twilio.

The call runs verbs until it needs the caller (a <Gather> or <Record>), is parked
(<Enqueue>, <Connect>), or ends. The test, or a person at a terminal, then acts for the
caller: press keys, stay silent, speak, record, hang up.

Twilio applies a REST update (new TwiML or URL, or hang-up) at once and answers the API
call without waiting for the new TwiML to run; an answer to a webhook still in flight is
then thrown away. Each update bumps `_generation`, and a run that sees the generation
change after an await stops without touching the call.
"""

import asyncio
import contextlib
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp

from .ids import API_VERSION, country_of, new_sid, rfc2822, utcnow
from .recordings import RecordingStore
from .streams import LocalStream, StreamClosed
from .tasks import TaskTracker
from .twiml import DTMF_KEYS, TwimlError, collect_digits, document_from, parse_twiml
from .verbs import CONTINUE, STOP, CallLog, DialOutcome, End, Fetch, Pending, Step, VerbRunner
from .webhooks import WebhookSender

# Documents fetched in a row without the caller doing anything. Pauses take no time here,
# so a hold loop (<Pause> then <Redirect> to itself) would spin: past this the call holds.
MAX_FETCHES_WITHOUT_INPUT = 25


class CallStateError(RuntimeError):
    """The caller tried something the call is not waiting for (e.g. keys with no Gather)."""


@dataclass
class CallContext:
    """What a call needs from the carrier."""

    account_sid: str
    webhooks: WebhookSender
    tasks: TaskTracker
    recordings: RecordingStore
    recording_url: Callable[[str], str]
    dial_outcome: Callable[[str], DialOutcome]
    http: aiohttp.ClientSession


class ScriptedCall:
    def __init__(
        self,
        context: CallContext,
        *,
        from_: str,
        to: str,
        direction: str,
        status_callback: str | None,
        status_callback_method: str = "POST",
        status_events: Iterable[str] = ("completed",),
    ) -> None:
        self._ctx = context
        self.sid = new_sid("CA")
        self.from_ = from_
        self.to = to
        self.direction = direction
        self.status = "queued" if direction == "outbound-api" else "ringing"
        self.created_at: datetime = utcnow()
        self.answered_at: datetime | None = None
        self.ended_at: datetime | None = None
        self.log = CallLog()
        self._runner = VerbRunner(
            self.log,
            dial_outcome=context.dial_outcome,
            answer=self._answer,
            is_answered=lambda: self.answered_at is not None,
            on_stream=self._stream_verb,
        )
        self._streams: dict[str, LocalStream] = {}  # open <Start><Stream>s by name
        self._moved = asyncio.Event()  # set by each REST update
        self.updated_at: float | None = None  # time.perf_counter() of the last REST update
        self._status_callback = status_callback
        self._status_callback_method = status_callback_method
        self._status_events = frozenset(status_events)
        self._sequence = 0
        self._generation = 0
        self._lock = asyncio.Lock()
        self._runs: set[asyncio.Task[Any]] = set()

    # --- what a test reads ------------------------------------------------------------------

    @property
    def prompts(self) -> list[str]:
        """Every <Say> text so far, in order."""
        return self.log.prompts

    @property
    def transcript(self) -> list[dict[str, Any]]:
        """Everything in order: verbs run, webhooks fetched, what the caller did."""
        return self.log.transcript

    @property
    def errors(self) -> list[dict[str, object]]:
        """Application errors ({code, message, url}); each one ended the call."""
        return self.log.errors

    @property
    def dialed(self) -> list[str]:
        return self.log.dialed

    @property
    def streams(self) -> list[dict[str, Any]]:
        return self.log.streams

    @property
    def queue(self) -> str | None:
        return self.log.queue

    @property
    def ended(self) -> bool:
        return self.ended_at is not None

    @property
    def waiting_for(self) -> str | None:
        """'gather', 'record', 'queue' (Enqueue), 'stream' (Connect), 'hold' or None.

        'hold' means the TwiML kept redirecting without waiting for the caller (see
        MAX_FETCHES_WITHOUT_INPUT); a REST update or hang_up() moves the call on.
        """
        return None if self._runner.pending is None else self._runner.pending.kind

    @property
    def gather(self) -> dict[str, object] | None:
        """The current Gather's attributes with Twilio's defaults filled in (action resolved)."""
        pending = self._runner.pending
        if pending is None or pending.gather is None:
            return None
        return pending.gather.as_dict() | {"action": pending.action}

    @property
    def recording(self) -> dict[str, object] | None:
        """The current Record's attributes with Twilio's defaults filled in."""
        pending = self._runner.pending
        if pending is None or pending.record is None:
            return None
        return pending.record.as_dict() | {"action": pending.action}

    @property
    def duration(self) -> int:
        """Seconds since answer, counting simulated pauses, silences and recordings."""
        if self.answered_at is None:
            return 0
        wall = ((self.ended_at or utcnow()) - self.answered_at).total_seconds()
        return int(wall) + self.log.simulated_seconds

    def new_prompts(self) -> list[str]:
        """The Say texts since the caller's last input (or the last call of this), and reset."""
        prompts, self.log.new_prompts = self.log.new_prompts, []
        return prompts

    async def settled(self) -> None:
        """Wait until a REST update or an outbound answer has finished running."""
        while self._runs:
            await asyncio.gather(*list(self._runs), return_exceptions=True)

    # --- what the caller does ---------------------------------------------------------------

    async def press(self, keys: str) -> None:
        """Type keys into the current <Gather>; see twiml.collect_digits for Twilio's rules."""
        if not keys or set(keys) - DTMF_KEYS:
            raise ValueError(f"keys must be some of 0-9 * #, got {keys!r}")
        async with self._acting("gather") as pending:
            spec = pending.gather
            assert spec is not None
            if "dtmf" not in spec.input:
                raise CallStateError(f"this Gather takes input={' '.join(spec.input)!r}, not keys")
            self._input("keys", keys=keys)
            digits, finished_on, rest = collect_digits(keys, spec.num_digits, spec.finish_on_key)
            if rest:
                self.log.event("keys-ignored", keys=rest)
            if not finished_on and (spec.num_digits is None or len(digits) < spec.num_digits):
                self.log.simulated_seconds += spec.timeout
            if not digits:
                step = self._runner.empty_gather(pending)
            else:
                params = {"Digits": digits, "FinishedOnKey": finished_on}
                step = Fetch(pending.action or "", pending.method, params)
            await self._drive(step)

    async def speak(self, text: str, confidence: float = 0.9) -> None:
        """Answer a speech <Gather> with what the recogniser heard."""
        async with self._acting("gather") as pending:
            spec = pending.gather
            assert spec is not None
            if "speech" not in spec.input:
                raise CallStateError("this Gather does not listen for speech")
            self._input("speech", text=text, confidence=confidence)
            params = {
                "SpeechResult": text,
                "Confidence": f"{confidence:.2f}",
                "Language": spec.language,
            }
            await self._drive(Fetch(pending.action or "", pending.method, params))

    @property
    def open_streams(self) -> list[LocalStream]:
        return [s for s in self._streams.values() if s.open]

    def stream(self, name: str | None = None) -> LocalStream:
        """A stream the call has started: by name, or the newest."""
        if name is not None and name in self._streams:
            return self._streams[name]
        if name is None and self._streams:
            return list(self._streams.values())[-1]
        raise CallStateError(f"call {self.sid} has no stream {name or ''}".rstrip())

    async def speak_audio(self, mulaw: bytes, *, realtime: bool = False,
                          silence_after: float = 2.5, wait: float = 10.0) -> bool:
        """Say something (8 kHz μ-law) at the current prompt, over its media stream, then
        stay quiet for `silence_after` seconds (Twilio streams silence too). True if the
        application moved the call on (a REST update) within `wait` seconds; the call
        has then settled."""
        await self.settled()
        if self.waiting_for != "gather":
            raise CallStateError(f"call {self.sid} is not at a prompt ({self.waiting_for})")
        stream = self.stream()
        self._moved.clear()
        self.log.event("speech", name=stream.name, bytes=len(mulaw))
        silence = b"\xff" * int(8000 * silence_after)
        try:
            await stream.send_audio(mulaw + silence, realtime=realtime)
        except StreamClosed:
            self.log.event("stream-closed", name=stream.name)
        try:
            async with asyncio.timeout(wait):
                await self._moved.wait()
        except TimeoutError:
            return False
        await self.settled()
        return True

    async def stream_audio(self, mulaw: bytes) -> int:
        """Live audio from the caller (the browser phone's microphone), whole 20 ms frames
        of 8 kHz μ-law: Twilio forks the caller's audio to every stream running and none
        hears what was said before it started, so it goes to the streams open now and is
        otherwise lost. Returns how many streams got it."""
        if self.ended:
            raise CallStateError(f"call {self.sid} already ended ({self.status})")
        heard = 0
        for stream in self.open_streams:
            with contextlib.suppress(StreamClosed):  # the application just closed it
                await stream.send_audio(mulaw)
                heard += 1
        return heard

    async def close_streams(self) -> None:
        for stream in self._streams.values():
            await stream.close()

    async def stay_silent(self) -> None:
        """Let the current <Gather> or <Record> time out with nothing from the caller."""
        async with self._acting("gather", "record") as pending:
            self._input("silence")
            if pending.gather is not None:
                self.log.simulated_seconds += pending.gather.timeout
                step = self._runner.empty_gather(pending)
            else:
                # Twilio drops an empty recording: no action request, the next verb runs.
                assert pending.record is not None
                self.log.simulated_seconds += pending.record.timeout
                step = CONTINUE
            await self._drive(step)

    async def record(
        self, duration: int = 3, *, finish_key: str | None = "#", hang_up: bool = False
    ) -> None:
        """Speak into the current <Record> for `duration` seconds.

        The recording ends with `finish_key` (sent as Digits; None means it ended on
        silence or maxLength, with no Digits), or with the caller hanging up (Digits
        "hangup": Twilio still posts the action, then the call is over).
        """
        async with self._acting("record") as pending:
            spec = pending.record
            assert spec is not None
            if finish_key is not None and finish_key not in spec.finish_on_key:
                raise ValueError(
                    f"{finish_key!r} does not end this Record (finishOnKey={spec.finish_on_key!r})"
                )
            self._input("recording", duration=duration)
            if duration <= 0:
                await self._drive(CONTINUE)
                return
            length = min(duration, spec.max_length)
            recording = self._ctx.recordings.add(self.sid, length)
            url = self._ctx.recording_url(recording.sid)
            self.log.simulated_seconds += length
            self.log.event("recorded", sid=recording.sid, url=url, duration=length)
            params = {
                "RecordingUrl": url,
                "RecordingSid": recording.sid,
                "RecordingDuration": str(length),
            }
            if hang_up:
                params["Digits"] = "hangup"
            elif finish_key is not None and duration <= spec.max_length:
                params["Digits"] = finish_key
            if pending.recording_status_callback:
                self._recording_status(pending.recording_status_callback, params)
            if not hang_up:
                await self._drive(Fetch(pending.action or "", pending.method, params))
                return
            self._mark_ended("completed")
            await self._ctx.webhooks.deliver(
                pending.action or "", self._params() | params, method=pending.method
            )
            await self._post_final_status()

    async def hang_up(self) -> None:
        """The caller hangs up; Twilio then posts the final status callback."""
        await self.settled()
        async with self._lock:
            if self.ended:
                raise CallStateError(f"call {self.sid} already ended ({self.status})")
            pending, self._runner.pending = self._runner.pending, None
            self._generation += 1
            self.log.event("caller-hangup")
            self._mark_ended("completed")
            if pending is not None and pending.kind == "queue" and pending.action:
                # <Enqueue action> hears how the caller left the queue.
                await self._ctx.webhooks.deliver(
                    pending.action,
                    self._params() | {"QueueResult": "hangup"},
                    method=pending.method,
                )
            await self._post_final_status()

    async def end_stream(self) -> None:
        """The media socket of a <Connect><Stream> closed: the call goes on past <Connect>."""
        async with self._acting("stream") as pending:
            self._input("stream-closed")
            step = Fetch(pending.action, pending.method) if pending.action else CONTINUE
            await self._drive(step)

    # --- what the carrier does --------------------------------------------------------------

    async def start_inbound(self, voice_url: str) -> None:
        async with self._lock:
            await self._drive(Fetch(voice_url))

    def run_outbound(self, *, answer: str, url: str | None, method: str, twiml: str | None) -> None:
        """The simulated phone rings and answers (or not); runs in the background."""
        self._spawn_run(self._outbound(answer, url, method, twiml))

    def redirect(
        self, *, url: str | None = None, method: str = "POST", twiml: str | None = None
    ) -> None:
        """REST update with Url or Twiml: takes effect at once, runs in the background."""
        self._generation += 1
        self._runner.pending = None
        self.updated_at = time.perf_counter()
        self._moved.set()
        self._spawn_run(self._redirected(self._generation, url, method, twiml))

    def terminate(self, status: str = "completed") -> None:
        """REST update with Status=completed (or canceled): the call ends at once."""
        self._generation += 1
        self._runner.pending = None
        self.log.event("api-hangup", status=status)
        self._mark_ended(status)
        self._ctx.tasks.spawn(self._post_final_status())

    async def _outbound(self, answer: str, url: str | None, method: str, twiml: str | None):
        async with self._lock:
            for status in ("initiated", "ringing"):
                self.status = status
                await self._progress(status)
                if self.ended:
                    return  # hung up over REST while ringing
            if answer != "answer":
                self._mark_ended(answer)
                await self._post_final_status()
                return
            self._answer()
            await self._progress("answered")
            await self._drive(self._first_step(url, method, twiml))

    async def _redirected(
        self, generation: int, url: str | None, method: str, twiml: str | None
    ) -> None:
        async with self._lock:
            if generation == self._generation and not self.ended:
                await self._drive(self._first_step(url, method, twiml))

    # --- the interpreter loop ---------------------------------------------------------------

    def _first_step(self, url: str | None, method: str, twiml: str | None) -> Step:
        if twiml is None:
            return Fetch(url or "", method)
        try:
            self._runner.load(parse_twiml(twiml), None)  # REST TwiML has no document URL
        except TwimlError as error:
            return error
        return CONTINUE

    async def _drive(self, step: Step) -> None:
        generation, fetches = self._generation, 0
        while generation == self._generation and not self.ended:
            if isinstance(step, Fetch):
                fetches += 1
                if fetches > MAX_FETCHES_WITHOUT_INPUT:
                    self.log.event("hold", url=step.url)
                    self._runner.pending = Pending("hold")
                    return
                document = await self._fetch(step)
                if generation != self._generation:
                    return  # a REST update took over while the webhook was in flight
                if isinstance(document, TwimlError):
                    step = document
                else:
                    self._runner.load(document, step.url)
                    step = CONTINUE
            elif isinstance(step, TwimlError):
                # Twilio says "An application error has occurred" and hangs up.
                self.log.errors.append(step.as_dict())
                self.log.event("error", **step.as_dict())
                await self._end("completed")
            elif isinstance(step, End):
                await self._end(step.status)
            elif step == STOP:
                return
            elif not self._runner.verbs:
                await self._end("completed")  # running off the end of a document hangs up
            else:
                step = self._runner.next()

    async def _fetch(self, fetch: Fetch) -> ET.Element | TwimlError:
        params = self._params() | fetch.params
        result = await self._ctx.webhooks.deliver(fetch.url, params, method=fetch.method)
        self.log.event("webhook", url=fetch.url, method=fetch.method, status=result.status)
        try:
            return document_from(result)
        except TwimlError as error:
            return error

    # --- helpers ----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _acting(self, *kinds: str) -> AsyncIterator[Pending]:
        """Settle, take the call, and check it is waiting for one of `kinds`."""
        await self.settled()
        async with self._lock:
            pending = self._runner.pending
            if pending is None or pending.kind not in kinds:
                if self.ended:
                    state = f"ended ({self.status})"
                else:
                    state = f"waiting for {pending.kind}" if pending else "not waiting"
                raise CallStateError(
                    f"call {self.sid} is not waiting for {' or '.join(kinds)}: it is {state}"
                )
            yield pending

    def _input(self, kind: str, **fields: Any) -> None:
        self.log.event(kind, **fields)
        self.log.new_prompts = []
        self._runner.pending = None

    def _answer(self) -> None:
        if self.answered_at is None and not self.ended:
            self.answered_at = utcnow()
            self.status = "in-progress"

    def _spawn_run(self, coro: Coroutine[Any, Any, None]) -> None:
        task = self._ctx.tasks.spawn(coro)
        self._runs.add(task)
        task.add_done_callback(self._runs.discard)

    def _mark_ended(self, status: str) -> None:
        if not self.ended:
            self.status = status
            self.ended_at = utcnow()
            self._runner.pending = None
            # A call's streams end with it, one still connecting too (stop waits for it).
            for stream in self._streams.values():
                if not stream.closed.is_set():
                    self._ctx.tasks.spawn(stream.stop())

    def _stream_verb(self, how: str, info: dict[str, Any]) -> None:
        if how == "stop":
            stream = self._streams.get(info["name"])
            if stream is not None and not stream.closed.is_set():  # open, or still opening
                self._ctx.tasks.spawn(stream.stop())
            return
        if info["noun"] != "Stream":
            return
        url = info["url"] or ""
        if "?" in url or not url.startswith(("wss://", "ws://")):
            # Twilio: the stream URL must be wss:// and carry no query string.
            self.log.event("warning", code=31920, message=f"invalid stream URL {url!r}")
            return
        earlier = self._streams.get(info["name"])
        if earlier is not None and not earlier.closed.is_set():  # open, or opening
            self.log.event("warning", message=f"a stream named {info['name']} is open already")
            return
        stream = LocalStream(name=info["name"], url=url,
                             track=info["track"] or "inbound_track",
                             parameters=info["parameters"], call_sid=self.sid,
                             account_sid=self._ctx.account_sid)
        self._streams[stream.name] = stream
        self._ctx.tasks.spawn(stream.connect(self._ctx.http, self._ctx.webhooks))

    async def _end(self, status: str) -> None:
        self._mark_ended(status)
        await self._post_final_status()

    # --- webhooks about the call ------------------------------------------------------------

    def _params(self) -> dict[str, str]:
        return {
            "AccountSid": self._ctx.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": self.sid,
            "CallStatus": self.status,
            "Called": self.to,
            "CalledCountry": country_of(self.to),
            "Caller": self.from_,
            "CallerCountry": country_of(self.from_),
            "Direction": self.direction,
            "From": self.from_,
            "FromCountry": country_of(self.from_),
            "To": self.to,
            "ToCountry": country_of(self.to),
        }

    async def _progress(self, event: str) -> None:
        if event in self._status_events:
            await self._status(self._params())

    async def _post_final_status(self) -> None:
        # Twilio's "completed" event covers every final status (busy, no-answer, …).
        if "completed" in self._status_events:
            await self._status(self._params() | {"CallDuration": str(self.duration)})

    async def _status(self, params: dict[str, str]) -> None:
        if not self._status_callback:
            return
        params |= {
            "CallbackSource": "call-progress-events",
            "SequenceNumber": str(self._sequence),
            "Timestamp": rfc2822(utcnow()) or "",
        }
        self._sequence += 1
        await self._ctx.webhooks.deliver(
            self._status_callback, params, method=self._status_callback_method, retries=1
        )

    def _recording_status(self, url: str, params: dict[str, str]) -> None:
        fields = {key: value for key, value in params.items() if key != "Digits"}
        fields |= {
            "AccountSid": self._ctx.account_sid,
            "CallSid": self.sid,
            "RecordingStatus": "completed",
            "RecordingChannels": "1",
            "RecordingSource": "RecordVerb",
        }
        self._ctx.tasks.spawn(self._ctx.webhooks.deliver(url, fields))
