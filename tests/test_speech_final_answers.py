"""A spoken answer that would end the call or throw work away waits for a key, however
sure Vosk was. Callers of espeak-ng's making (several Korean voices, speeds and pitches,
after some quiet on the line) speak through the local carrier's media streams to the
running hotline and the real Korean model, as in test_speech_calls."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from gigline.keys import CLOCK, SESSIONS
from store.models import Area, Trade, Worker
from tests.espeak import SPEECH_TOOLS_MISSING, Voice, say_in
from tests.speech_fixtures import no_recognizer_left

# espeak-ng's Korean voices as this model hears them: some say 예 ("yes") so that it is
# heard as 이 ("2", here "no") with full confidence; 아니요 is heard right by all.
VOICES = (
    Voice("ko", 180, 70, 1.0),
    Voice("ko+f3", 120, 50, 0.3),
    Voice("ko+m2", 180, 30, 1.5),
    Voice("ko+m5", 120, 30, 0.5),
    Voice("ko+f2", 120, 50, 1.0),
    Voice("ko+f3", 180, 50, 0.8),
)
YES_WORDS, NO_WORDS = {"예", "일"}, {"아니요", "이"}  # the Korean pack at a yes/no prompt
READ_BACK = re.compile(r"您说的是(.+)，对请按1，不对请按2。")
CONSENT = "我们会记下您的电话和登记的信息，只用来给您介绍工作。同意请按1，不同意请按2。"
DECLINED = "好的，不登记也可以随时再打来。再见。"
RETRY = "好的，请再说一遍，或者按键。"


@pytest.fixture(scope="module")
def said(tmp_path_factory) -> dict[tuple[Voice, str], bytes]:
    """Every voice's 예 and 아니요, made once for the module."""
    if SPEECH_TOOLS_MISSING:
        pytest.skip(f"{' and '.join(SPEECH_TOOLS_MISSING)} not installed: "
                    "`make speech-tools` installs them (`make test` does)")
    workdir = tmp_path_factory.mktemp("voices")
    return {(voice, word): say_in(voice, word, workdir)
            for voice in VOICES for word in ("예", "아니요")}


def caller(i: int) -> str:
    return f"+86138000001{i:02d}"


def read_back(prompt: str) -> str | None:
    match = READ_BACK.fullmatch(prompt)
    return match and match.group(1)


async def consented(hotline, phone: str) -> bool:
    async with hotline.app[SESSIONS]() as session:
        return await session.scalar(select(Worker).where(Worker.phone == phone)) is not None


async def test_a_spoken_no_to_consent_is_read_back_and_only_a_key_declines(
        speaking_hotline, said):
    for i, voice in enumerate(VOICES):
        call = await speaking_hotline.carrier.place_call(caller(i))
        no = said[voice, "아니요"]
        assert await call.speak_audio(no), f"{voice}: heard"
        assert call.new_prompts()[-1] == "您说的是아니요，对请按1，不对请按2。", voice
        assert not call.ended, f"{voice}: a spoken no does not hang up"
        await call.press("2")  # "that is not what I said"
        assert call.new_prompts()[-2:] == [RETRY, CONSENT], voice
        assert await call.speak_audio(no), f"{voice}: heard again"
        assert read_back(call.new_prompts()[-1]) == "아니요" and not call.ended, voice
        await call.press("1")
        assert call.new_prompts()[-1] == DECLINED and call.ended, voice
        assert not await consented(speaking_hotline, caller(i))
    await speaking_hotline.carrier.drain()
    await no_recognizer_left(speaking_hotline)


async def test_a_spoken_yes_is_taken_and_a_yes_misheard_as_no_waits_for_a_key(
        speaking_hotline, said):
    """The caller answers a read-back as a person would: 1 when it names what they said
    (a yes word), 2 when it names a no (then they press 1 for yes)."""
    outcomes = {}
    for i, voice in enumerate(VOICES):
        call = await speaking_hotline.carrier.place_call(caller(i))
        assert await call.speak_audio(said[voice, "예"]), f"{voice}: heard"
        prompts = call.new_prompts()
        assert DECLINED not in prompts and not call.ended, f"{voice}: declined unasked"
        heard = read_back(prompts[-1])
        if heard is None:
            outcomes[voice] = "taken as said"
        elif heard in YES_WORDS:
            outcomes[voice] = "confirmed"
            await call.press("1")
            prompts = call.new_prompts()
        else:
            assert heard in NO_WORDS, f"{voice}: read back {heard!r}"
            outcomes[voice] = "misheard as no, refused"
            await call.press("2")
            assert call.new_prompts()[-2:] == [RETRY, CONSENT], voice
            await call.press("1")
            prompts = call.new_prompts()
        assert "请选您会的工种" in prompts[-1], f"{voice}: {outcomes[voice]}"
        assert await consented(speaking_hotline, caller(i)) and not call.ended, voice
        await call.hang_up()
    assert "misheard as no, refused" in outcomes.values(), (
        f"no voice is misheard any more, so none tests the read-back of a no: {outcomes}")
    assert {"taken as said", "confirmed"} & set(outcomes.values()), (
        f"a spoken yes never counts: {outcomes}")
    await speaking_hotline.carrier.drain()
    await no_recognizer_left(speaking_hotline)


async def add_welder(hotline, phone: str) -> None:
    async with hotline.app[SESSIONS]() as session, session.begin():
        town = await session.scalar(select(Area).where(Area.name == "北城街道"))
        welder = await session.scalar(select(Trade).where(Trade.code == "welder"))
        session.add(Worker(market_id=town.market_id, phone=phone, status="active",
                           created_at=hotline.app[CLOCK](), town_id=town.id,
                           district_id=town.parent_id, trades=[welder],
                           consent_at=hotline.app[CLOCK]()))


async def test_a_spoken_no_to_an_offer_passes_it_over_only_after_a_key(speaking_hotline,
                                                                        said):
    """The demo market's one welding job, heard by a registered welder calling in."""
    voice = VOICES[2]
    await add_welder(speaking_hotline, caller(0))
    call = await speaking_hotline.carrier.place_call(caller(0))
    await call.press("1")  # jobs for me
    offer = call.new_prompts()[-2]
    assert offer.startswith("焊工，一天500元"), offer
    assert await call.speak_audio(said[voice, "아니요"])
    assert call.new_prompts()[-1] == "您说的是아니요，对请按1，不对请按2。"
    await call.press("2")
    assert call.new_prompts()[-3:-1] == [RETRY, offer], "the same job, still on offer"
    assert await call.speak_audio(said[voice, "아니요"])
    assert read_back(call.new_prompts()[-1]) == "아니요"
    await call.press("1")
    prompts = call.new_prompts()
    assert prompts[0] == "没有更多的活了。" and "听适合您的活请按1" in prompts[-1]
    assert not call.ended
    await call.hang_up()
    await speaking_hotline.carrier.drain()
    await no_recognizer_left(speaking_hotline)
