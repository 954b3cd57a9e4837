"""Calling the hotline from a terminal: hear the prompts, type keys, record, hang up.

Input and output are injected (read_line, write) so the loop is testable and any front end
(a CLI over stdin, a web page) can drive it.
"""

import asyncio
import inspect
from collections.abc import Awaitable, Callable

from .call import CallStateError
from .carrier import LocalCarrier
from .phone_line import CallView, LocalLine, PhoneLine, PhoneSms

ReadLine = Callable[[], Awaitable[str]]
Write = Callable[[str], object]  # may be a coroutine function

HELP = {
    "gather": "keys then Enter (Enter alone = silence, h = hang up)",
    "speech": "keys then Enter (Enter alone = silence, 'say <words>' = speak, h = hang up)",
    "record": "r [seconds] = record your answer (Enter alone = silence, h = hang up)",
    "queue": "on hold in a queue: Enter to keep waiting, h to hang up",
    "stream": "connected to a media stream: Enter to keep waiting, h to hang up",
    "hold": "on hold: Enter to keep waiting, h to hang up",
}


async def run_terminal_call(
    line: PhoneLine | LocalCarrier, from_phone: str, *, read_line: ReadLine, write: Write,
    linger: float = 0.0,
) -> CallView:
    """Call the hotline from `from_phone` and let a person play the caller until it ends,
    then `linger` seconds for SMS the call set off (a registration's confirmation).
    `line` is a carrier in this process or the line to one in another (RemoteLine)."""
    if isinstance(line, LocalCarrier):
        line = LocalLine(line)

    async def say(text: str) -> None:
        result = write(text)
        if inspect.isawaitable(result):
            await result

    seen = Seen(sms=len(await line.inbox(from_phone)))
    await say(f"Calling {line.hotline_number} from {from_phone} …")
    call = await line.place_call(from_phone)
    while True:
        for text in seen.news(call, await line.inbox(from_phone)):
            await say(text)
        if call.ended:
            await say(f"Call ended ({call.status}, {call.duration} s).")
            if linger:
                await asyncio.sleep(linger)
                for text in seen.news(call, await line.inbox(from_phone)):
                    await say(text)
            return call
        await say(f"[{_help(call)}]")
        try:
            call = await _act(line, call, (await read_line()).strip())
        except (CallStateError, ValueError) as error:
            await say(f"! {error}")


def _help(call: CallView) -> str:
    """The speech hint only where the prompt takes spoken answers from this phone."""
    kind = "speech" if call.waiting_for == "gather" and call.hears_speech else call.waiting_for
    return HELP.get(kind or "", "Enter to continue, h to hang up")


async def _act(line: PhoneLine, call: CallView, text: str) -> CallView:
    command, _, rest = text.partition(" ")
    if text.lower() == "h":
        return await line.act(call.sid, "hang_up")
    if command.lower() == "r":
        return await line.act(call.sid, "record", rest.strip())
    if command.lower() == "say" and rest.strip():
        return await line.act(call.sid, "speak", rest.strip())
    if not text:
        if call.waiting_for in ("gather", "record"):
            return await line.act(call.sid, "silence")
        return await line.look(call.sid)  # on hold: what happened meanwhile
    return await line.act(call.sid, "press", text.replace(" ", ""))


class Seen:
    """What the person was already shown, so each turn prints only what is new."""

    def __init__(self, sms: int) -> None:
        self.sms = sms
        self.prompts = 0
        self.dialed = 0
        self.errors = 0

    def news(self, call: CallView, inbox: list[PhoneSms]) -> list[str]:
        lines = [f"  « {prompt}" for prompt in call.prompts[self.prompts :]]
        lines += [f"  (dialing {number})" for number in call.dialed[self.dialed :]]
        lines += [
            f"  ! application error {e['code']}: {e['message']}" for e in call.errors[self.errors :]
        ]
        lines += [f"  [SMS from {sms.from_}] {sms.body}" for sms in inbox[self.sms :]]
        self.prompts, self.dialed = len(call.prompts), len(call.dialed)
        self.errors, self.sms = len(call.errors), len(inbox)
        return lines
