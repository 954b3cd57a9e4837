"""Calling the hotline from a terminal: hear the prompts, type keys, record, hang up.

Input and output are injected (read_line, write) so the loop is testable and any front end
(a CLI over stdin, a web page) can drive it.
"""

import inspect
from collections.abc import Awaitable, Callable

from .call import CallStateError, ScriptedCall
from .carrier import LocalCarrier

ReadLine = Callable[[], Awaitable[str]]
Write = Callable[[str], object]  # may be a coroutine function

HELP = {
    "gather": "keys then Enter (Enter alone = silence, 'say <words>' = speak, h = hang up)",
    "record": "r [seconds] = record your answer (Enter alone = silence, h = hang up)",
    "queue": "on hold in a queue: Enter to keep waiting, h to hang up",
    "stream": "connected to a media stream: Enter to keep waiting, h to hang up",
    "hold": "on hold: Enter to keep waiting, h to hang up",
}


async def run_terminal_call(
    carrier: LocalCarrier, from_phone: str, *, read_line: ReadLine, write: Write
) -> ScriptedCall:
    """Call the hotline from `from_phone` and let a person play the caller until it ends."""

    async def say(text: str) -> None:
        result = write(text)
        if inspect.isawaitable(result):
            await result

    seen = _Seen(sms=len(carrier.inbox(from_phone)))
    await say(f"Calling {carrier.hotline_number} from {from_phone} …")
    call = await carrier.place_call(from_phone)
    while True:
        await call.settled()
        for line in seen.news(call, carrier, from_phone):
            await say(line)
        if call.ended:
            await say(f"Call ended ({call.status}, {call.duration} s).")
            return call
        await say(f"[{HELP.get(call.waiting_for or '', 'Enter to continue, h to hang up')}]")
        try:
            await _act(call, (await read_line()).strip())
        except (CallStateError, ValueError) as error:
            await say(f"! {error}")


async def _act(call: ScriptedCall, line: str) -> None:
    command, _, rest = line.partition(" ")
    if line.lower() == "h":
        await call.hang_up()
    elif command.lower() == "r":
        await call.record(int(rest) if rest.strip() else 3)
    elif command.lower() == "say" and rest.strip():
        await call.speak(rest.strip())
    elif not line:
        if call.waiting_for in ("gather", "record"):
            await call.stay_silent()
    else:
        await call.press(line.replace(" ", ""))


class _Seen:
    """What the person was already shown, so each loop prints only what is new."""

    def __init__(self, sms: int) -> None:
        self.sms = sms
        self.dialed = 0
        self.errors = 0

    def news(self, call: ScriptedCall, carrier: LocalCarrier, phone: str) -> list[str]:
        lines = [f"  « {prompt}" for prompt in call.new_prompts()]
        lines += [f"  (dialing {number})" for number in call.dialed[self.dialed :]]
        lines += [
            f"  ! application error {e['code']}: {e['message']}" for e in call.errors[self.errors :]
        ]
        inbox = carrier.inbox(phone)
        lines += [f"  [SMS from {sms.from_}] {sms.body}" for sms in inbox[self.sms :]]
        self.dialed, self.errors, self.sms = len(call.dialed), len(call.errors), len(inbox)
        return lines
