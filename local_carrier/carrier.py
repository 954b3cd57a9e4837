"""LocalCarrier: a stand-in for Twilio that Gigline's demo runs on and its tests drive.

It plays both sides Twilio stands between: the application's REST API (rest_app) and the
phone network (simulated phones that text and call the hotline, receive SMS and answer
outbound calls). Every webhook it sends is signed with the auth token as Twilio signs.
"""

import asyncio
from collections.abc import Iterable

import aiohttp
from aiohttp import web

from .browser_phone import PAGE_PATH
from .call import CallContext, ScriptedCall
from .faults import FaultPlan
from .ids import API_VERSION, require_e164
from .messages import MessageRecord, SimulatedSms
from .recordings import RecordingStore
from .rest import build_rest_app
from .sms_center import SmsCenter, SmsPredicate
from .tasks import TaskTracker
from .verbs import DialOutcome
from .webhooks import WebhookResult, WebhookSender

ANSWER_MODES = ("answer", "busy", "no-answer", "failed")


class LocalCarrier:
    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        webhook_base: str,
        hotline_number: str,
        http: aiohttp.ClientSession,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.webhook_base = webhook_base.rstrip("/")
        self.hotline_number = hotline_number
        # Where the REST stand-in is reachable; set by start_rest() or its first request.
        self.rest_base: str | None = None
        self.faults = FaultPlan()
        self.recordings = RecordingStore()
        self._tasks = TaskTracker()
        self._changed = asyncio.Condition()
        self._webhooks = WebhookSender(http, auth_token)
        self.sms = SmsCenter(
            account_sid=account_sid,
            hotline_number=hotline_number,
            sms_webhook_url=f"{self.webhook_base}/twilio/sms",
            webhooks=self._webhooks,
            tasks=self._tasks,
            changed=self._changed,
        )
        self._calls: dict[str, ScriptedCall] = {}
        self._claimed: set[str] = set()
        self._dial_outcomes: dict[str, DialOutcome] = {}
        self._answer_modes: dict[str, str] = {}
        self._runner: web.AppRunner | None = None
        self._call_context = CallContext(
            account_sid=account_sid,
            webhooks=self._webhooks,
            tasks=self._tasks,
            recordings=self.recordings,
            recording_url=self._recording_url,
            dial_outcome=lambda target: self._dial_outcomes.get(target, DialOutcome()),
            http=http,
        )

    # --- the REST side ----------------------------------------------------------------------

    def rest_app(self) -> web.Application:
        """Twilio's REST API at the root of its own port (point client.api.base_url at it)."""
        return build_rest_app(self)

    async def start_rest(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve rest_app() on host:port (0 picks a free port); returns its base URL."""
        runner = web.AppRunner(self.rest_app())
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        self._runner = runner
        bound_host, bound_port = runner.addresses[0][:2]
        self.rest_base = f"http://{bound_host}:{bound_port}"
        return self.rest_base

    @property
    def browser_phone_url(self) -> str | None:
        """The browser phone's page (browser_phone.py), once the carrier listens."""
        return None if self.rest_base is None else f"{self.rest_base}{PAGE_PATH}"

    def learn_rest_base(self, origin: str) -> None:
        if self.rest_base is None:
            self.rest_base = origin

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 500,
        code: int = 20500,
        message: str = "Internal Server Error",
    ) -> None:
        """The next `count` REST requests fail with this Twilio error (e.g. 429/20429)."""
        self.faults.fail_next(count, status=status, code=code, message=message)

    def delay_next(self, seconds: float, count: int = 1) -> None:
        """The next `count` REST requests take effect but are answered `seconds` late."""
        self.faults.delay_next(seconds, count)

    def hang_next(self, seconds: float, count: int = 1) -> None:
        """The next `count` REST requests are dropped and answered 503 `seconds` late."""
        self.faults.hang_next(seconds, count)

    def randomise_faults(
        self,
        *,
        seed: int,
        error_rate: float = 0.0,
        timeout_rate: float = 0.0,
        timeout_seconds: float = 35.0,
        applies_to: Iterable[str] = ("POST",),
    ) -> None:
        """Seeded random errors and timeouts on REST requests (see FaultPlan.randomise)."""
        self.faults.randomise(
            seed=seed,
            error_rate=error_rate,
            timeout_rate=timeout_rate,
            timeout_seconds=timeout_seconds,
            applies_to=applies_to,
        )

    def calm_faults(self) -> None:
        self.faults.calm()

    def outage(self, seconds: float | None = None) -> None:
        """Every REST request fails with 503 until restore() or `seconds` have passed."""
        self.faults.outage(seconds)

    def restore(self) -> None:
        self.faults.restore()

    def messages(self) -> list[MessageRecord]:
        """Every message Twilio would list, newest first."""
        return self.sms.messages()

    # --- simulated phones: SMS --------------------------------------------------------------

    def inbox(self, phone: str) -> list[SimulatedSms]:
        return self.sms.inbox(phone)

    async def wait_for_sms(
        self,
        phone: str,
        timeout: float = 5.0,  # noqa: ASYNC109 - a bounded wait is what a test wants
        predicate: SmsPredicate | None = None,
    ) -> SimulatedSms:
        """The next SMS delivered to `phone` (each one is handed out once)."""
        try:
            async with asyncio.timeout(timeout):
                return await self.sms.next_sms(phone, predicate)
        except TimeoutError:
            got = [f"{sms.from_}: {sms.body!r}" for sms in self.inbox(phone)]
            matching = "matching " if predicate else ""
            raise TimeoutError(
                f"{phone} got no {matching}new SMS within {timeout}s; "
                f"its inbox holds {got or 'nothing'}"
            ) from None

    async def send_sms(self, from_phone: str, body: str) -> WebhookResult:
        """The phone texts the hotline: the signed webhook goes to /twilio/sms."""
        return await self.sms.receive(from_phone, body)

    def is_opted_out(self, phone: str) -> bool:
        return self.sms.is_opted_out(phone)

    def set_unreachable(self, phone: str, error_code: int | None = 30003) -> None:
        """SMS to this phone end 'undelivered' with error_code; None makes it reachable."""
        self.sms.set_unreachable(phone, error_code)

    # --- simulated phones: calls ------------------------------------------------------------

    async def place_call(self, from_phone: str) -> ScriptedCall:
        """The phone calls the hotline; returns once the call waits for the caller or ends."""
        call = ScriptedCall(
            self._call_context,
            from_=require_e164(from_phone),
            to=self.hotline_number,
            direction="inbound",
            status_callback=f"{self.webhook_base}/twilio/status",
        )
        self._calls[call.sid] = call
        await call.start_inbound(f"{self.webhook_base}/twilio/voice")
        return call

    async def start_outbound_call(
        self,
        phone: str,
        *,
        url: str | None,
        method: str = "POST",
        twiml: str | None = None,
        status_callback: str | None = None,
        status_callback_method: str = "POST",
        status_events: Iterable[str] = ("completed",),
    ) -> ScriptedCall:
        """What POST /Calls.json does: ring the phone, which answers as set_answer() says."""
        call = ScriptedCall(
            self._call_context,
            from_=self.hotline_number,
            to=require_e164(phone),
            direction="outbound-api",
            status_callback=status_callback,
            status_callback_method=status_callback_method,
            status_events=status_events,
        )
        self._calls[call.sid] = call
        answer = self._answer_modes.get(call.to, "answer")
        call.run_outbound(answer=answer, url=url, method=method, twiml=twiml)
        async with self._changed:
            self._changed.notify_all()
        return call

    async def answered_call(
        self,
        phone: str,
        timeout: float = 5.0,  # noqa: ASYNC109 - a bounded wait is what a test wants
    ) -> ScriptedCall:
        """The next outbound call to `phone` not handed out yet, once its TwiML has run."""
        key = require_e164(phone)

        def unclaimed() -> ScriptedCall | None:
            outbound = (c for c in self._calls.values() if c.direction == "outbound-api")
            return next((c for c in outbound if c.to == key and c.sid not in self._claimed), None)

        try:
            async with asyncio.timeout(timeout):
                async with self._changed:
                    call = await self._changed.wait_for(unclaimed)
                self._claimed.add(call.sid)
                await call.settled()
        except TimeoutError:
            raise TimeoutError(f"no call to {key} was placed within {timeout}s") from None
        return call

    def call(self, sid: str) -> ScriptedCall | None:
        return self._calls.get(sid)

    def calls(self) -> list[ScriptedCall]:
        return list(self._calls.values())

    def set_dial_outcome(self, number: str, status: str = "completed", duration: int = 30) -> None:
        """How a <Dial> to `number` ends (DialCallStatus and DialCallDuration)."""
        self._dial_outcomes[number] = DialOutcome(status, duration)

    def set_answer(self, phone: str, mode: str = "answer") -> None:
        """How the phone meets outbound calls: answer, busy, no-answer or failed."""
        if mode not in ANSWER_MODES:
            raise ValueError(f"mode must be one of {ANSWER_MODES}, not {mode!r}")
        self._answer_modes[require_e164(phone)] = mode

    # --- lifecycle --------------------------------------------------------------------------

    async def drain(self) -> None:
        """Wait for background work (deliveries, callbacks, redirects) to finish."""
        await self._tasks.drain()

    async def close_streams(self) -> None:
        for call in self._calls.values():
            await call.close_streams()

    async def close(self) -> None:
        self.faults.close()
        await self.close_streams()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self._tasks.close()

    def _recording_url(self, sid: str) -> str:
        base = self.rest_base or "http://127.0.0.1"
        return f"{base}/{API_VERSION}/Accounts/{self.account_sid}/Recordings/{sid}"
