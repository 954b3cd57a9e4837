"""Whole calls spoken through the local carrier: its media streams carry espeak-ng Korean
(the test pack) to our socket, Vosk recognises it, the call is redirected over REST."""

from __future__ import annotations

import asyncio
import json
import logging

import aiohttp
import pytest
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from gigline.keys import CHANNEL, DESK, SESSIONS, SPEECH
from gigline.runtime import start_hotline
from hotline import calls
from ivr_flows.commands import voice_from_json
from ivr_flows.inputs import Answer
from speech.recognizer import SETTLED_MS, GrammarRecognizer
from store.models import CallSession, Worker
from telephony.twilio.twiml import stream_token
from tests.conftest import free_port, make_settings
from tests.speech_fixtures import no_recognizer_left, utterance, voice_ends_at

CALLER = "+8613800000009"


async def stored_call(hotline, sid) -> CallSession:
    async with hotline.app[SESSIONS]() as session:
        return await session.get(CallSession, sid)


async def speak(call, word: str, **kwargs) -> bool:
    return await call.speak_audio(utterance(word), **kwargs)


async def test_a_whole_registration_by_voice(speaking_hotline):
    call = await speaking_hotline.carrier.place_call(CALLER)
    assert any("直接说" in p for p in call.prompts), "callers are told they may speak"
    assert await speak(call, "예")  # consent
    assert "请选您会的工种" in call.new_prompts()[-1]
    assert await speak(call, "삼")  # 3: 钢筋工
    assert any("已记下：钢筋工" in p for p in call.new_prompts())
    assert await speak(call, "아니요")  # no other trade
    assert await speak(call, "삼")  # district 3: 临猗县
    assert await speak(call, "이")  # town 2 (heard doubtfully): 临晋镇
    assert call.new_prompts()[-1] == "您说的是이，对请按1，不对请按2。"
    await call.press("1")
    await call.press("350#")  # the test pack has no numerals: wage by keys
    assert await speak(call, "삼")  # available this week
    # espeak's 이 comes back as "이 이" with low confidence: read back, confirmed by a key.
    assert await speak(call, "이")  # alerts by phone call
    assert call.new_prompts()[-1] == "您说的是이，对请按1，不对请按2。"
    assert not any(s.name == "listen-12" for s in call.open_streams), "keys only"
    await call.press("1")
    assert await speak(call, "아니요")  # no ID number
    await call.record(2)
    assert await speak(call, "예")  # the review is right
    assert any("登记好了" in p for p in call.new_prompts())
    async with speaking_hotline.app[SESSIONS]() as session:
        worker = await session.scalar(select(Worker).where(Worker.phone == CALLER))
    assert worker.status == "active" and worker.availability == "week"
    assert worker.alert_channel == "call" and worker.day_wage_fen == 35000
    assert worker.id_number_last4 is None and worker.town_id is not None
    await call.hang_up()
    await speaking_hotline.carrier.drain()
    await no_recognizer_left(speaking_hotline)


async def test_a_caller_who_hears_the_prompt_out_first_is_decoded_from_the_voice_on(
        speaking_hotline, monkeypatch):
    decoded = []
    accept = GrammarRecognizer.accept

    def counting_accept(recognizer, mulaw):
        decoded.append(len(mulaw))
        return accept(recognizer, mulaw)

    monkeypatch.setattr(GrammarRecognizer, "accept", counting_accept)
    call = await speaking_hotline.carrier.place_call(CALLER)
    quiet_line = b"\xff" * 8000 * 4  # four seconds of the consent prompt heard out
    # 아니요: espeak's 예 is heard as 이 after any quiet at all, gate or no gate.
    assert await call.speak_audio(quiet_line + utterance("아니요"))
    assert call.new_prompts()[-1] == "您说的是아니요，对请按1，不对请按2。", "heard"
    seconds_decoded = sum(decoded) / 8000
    assert seconds_decoded < 2.5, "the quiet four seconds were not decoded"


async def test_a_caller_is_answered_at_the_frame_their_quiet_ends_not_a_chunk_later(
        speaking_hotline):
    """The audio up to 300 ms after the voice and not a frame more (the stream stays open):
    the answer is taken. 아니요's voice ends 40 ms before a 100 ms chunk does, so waiting
    to fill the chunk would wait for frames that never come here."""
    call = await speaking_hotline.carrier.place_call(CALLER)
    word = utterance("아니요")
    heard_out = (word + b"\xff" * 8000)[:voice_ends_at(word) + 8 * SETTLED_MS]
    assert len(heard_out) % 800, "ends mid-chunk"
    assert await call.speak_audio(heard_out, silence_after=0, wait=5)
    assert call.new_prompts()[-1] == "您说的是아니요，对请按1，不对请按2。", "heard"


async def test_every_listening_prompt_streams_and_the_next_response_stops_it(speaking_hotline):
    call = await speaking_hotline.carrier.place_call(CALLER)
    started = [s for s in call.streams if s["how"] == "start"]
    assert started == [{"how": "start", "noun": "Stream", "name": "listen-1",
                        "url": speaking_hotline.settings.stream_url, "track": "inbound_track",
                        "parameters": {"turn": "1", "token": stream_token(
                            speaking_hotline.settings.auth_token, call.sid, 1)}}]
    assert call.gather["input"] == ("dtmf",), "keys are heard by the Gather, speech by the socket"
    await call.press("1")
    await speaking_hotline.carrier.drain()
    stops = [e for e in call.transcript if e["type"] == "stop"]
    assert stops == [{"type": "stop", "streams": ["listen-1"]}]
    assert [s.name for s in call.open_streams] == ["listen-2"]


async def test_keys_still_work_while_the_prompt_listens(speaking_hotline):
    call = await speaking_hotline.carrier.place_call(CALLER)
    await call.press("1")
    await call.press("2")  # 木工
    assert any("已记下：木工" in p for p in call.prompts)


async def test_keys_and_speech_at_once_make_exactly_one_turn(speaking_hotline):
    """Whichever wins (keys usually do here: they need no recognition), one counts."""
    call = await speaking_hotline.carrier.place_call(CALLER)
    before = (await stored_call(speaking_hotline, call.sid)).turn
    # 예 (yes: consent) and the key 2 (no: decline) at once: exactly one of them counts.
    spoken, _ = await asyncio.gather(speak(call, "예", wait=3), call.press("2"))
    await call.settled()
    after = await stored_call(speaking_hotline, call.sid)
    assert after.turn == before + 1, "one answer, one turn"
    async with speaking_hotline.app[SESSIONS]() as session:
        consented = await session.scalar(select(Worker).where(Worker.phone == CALLER))
    assert (consented is not None) == spoken
    assert call.ended != spoken, "declined and hung up only if the key won"


async def test_keys_for_a_prompt_speech_already_answered_change_nothing(speaking_hotline):
    """The other order of the race, made certain: a key press posted for the consent
    prompt after 예 took it is answered with the saved next prompt, and applied never."""
    call = await speaking_hotline.carrier.place_call(CALLER)
    assert await speak(call, "예")
    before = await stored_call(speaking_hotline, call.sid)
    late = await calls.take_turn(
        speaking_hotline.app[DESK], call_sid=call.sid, caller=CALLER, turn=1,
        event=Answer("2"))
    assert not late.taken
    saved = voice_from_json(json.loads(before.last_response)["voice"])
    assert late.reply.turn == before.turn and late.reply.commands == saved
    # the caller hears the saved next prompt again: what consent said yes to
    assert "<Gather" in speaking_hotline.app[CHANNEL].render(late.reply).body
    after = await stored_call(speaking_hotline, call.sid)
    assert (after.turn, after.state) == (before.turn, before.state)


async def test_speech_after_keys_took_the_turn_changes_nothing(speaking_hotline):
    call = await speaking_hotline.carrier.place_call(CALLER)
    await call.press("1")  # turn 1 answered by keys
    before = await stored_call(speaking_hotline, call.sid)
    late = await calls.take_turn(
        speaking_hotline.app[DESK], call_sid=call.sid, caller=CALLER, turn=1,
        event=Answer("2", "speech", 0.99, "아니요"))
    assert not late.taken
    after = await stored_call(speaking_hotline, call.sid)
    assert (after.turn, after.state) == (before.turn, before.state)


async def test_doubtful_speech_read_back_and_denied_asks_again(speaking_hotline):
    call = await speaking_hotline.carrier.place_call(CALLER)
    await call.press("1")
    await call.press("4")  # trades page 2
    assert await speak(call, "이")  # heard with low confidence
    assert call.new_prompts()[-1] == "您说的是이，对请按1，不对请按2。"
    await call.press("2")
    prompts = call.new_prompts()
    assert prompts[0] == "好的，请再说一遍，或者按键。"
    assert prompts[-1] == "请选您会的工种。电工请按1，水电工请按2，瓦工请按3，更多请按4。"
    await call.press("3")
    assert any("已记下：瓦工" in p for p in call.new_prompts())


async def test_without_a_model_the_hotline_is_keypad_only_and_says_why_once(database_url,
                                                                            caplog):
    caplog.set_level(logging.INFO, logger="speech.service")
    settings = make_settings(database_url, free_port(),
                             GIGLINE_LOCAL_CARRIER_PORT=str(free_port()))
    hotline = await start_hotline(settings)
    try:
        call = await hotline.carrier.place_call(CALLER)
        assert not call.streams and not any("直接说" in p for p in call.prompts)
        await call.press("1")
        assert any("请选您会的工种" in p for p in call.prompts)
        url = settings.stream_url
        signed = RequestValidator(settings.auth_token).compute_signature(url, {})
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await hotline.http.ws_connect(url, headers={"X-Twilio-Signature": signed})
        assert refused.value.status == 404, "a signed upgrade finds no socket: speech is off"
    finally:
        await hotline.close()
    off = [r.getMessage() for r in caplog.records if "speech is off" in r.getMessage()]
    assert len(off) == 1 and "VOSK_MODEL_PATH" in off[0]


async def test_a_bad_model_path_leaves_the_keypad_working(database_url, tmp_path, caplog):
    settings = make_settings(database_url, free_port(),
                             GIGLINE_LOCAL_CARRIER_PORT=str(free_port()),
                             VOSK_MODEL_PATH=str(tmp_path / "no-model"))
    hotline = await start_hotline(settings)
    try:
        call = await hotline.carrier.place_call(CALLER)
        await call.press("1")
        assert not call.streams and any("请选您会的工种" in p for p in call.prompts)
    finally:
        await hotline.close()
    assert any("speech is off: no Vosk model" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("language_setting", ["VOSK_MODEL_PATH_KO", "VOSK_MODEL_PATH"])
def test_the_model_is_chosen_per_language(language_setting, tmp_path):
    from tests.speech_fixtures import KOREAN_MODEL_PATH

    settings = make_settings("sqlite+aiosqlite:///x.db", 8080, GIGLINE_SPEECH_LANGUAGE="ko",
                             **{language_setting: KOREAN_MODEL_PATH})
    assert settings.vosk_model_path == KOREAN_MODEL_PATH
    other = make_settings("sqlite+aiosqlite:///x.db", 8080, VOSK_MODEL_PATH_KO="/ko")
    assert other.vosk_model_path is None, "a zh-CN market does not take the Korean model"


async def test_a_model_of_another_language_leaves_speech_off(database_url, korean_model,
                                                             caplog):
    from tests.speech_fixtures import KOREAN_MODEL_PATH

    settings = make_settings(database_url, free_port(),
                             GIGLINE_LOCAL_CARRIER_PORT=str(free_port()),
                             VOSK_MODEL_PATH=KOREAN_MODEL_PATH)  # a zh-CN market
    hotline = await start_hotline(settings, speech_model=korean_model)
    try:
        call = await hotline.carrier.place_call(CALLER)
        assert not call.streams and not any("直接说" in p for p in call.prompts)
        assert SPEECH not in hotline.app
    finally:
        await hotline.close()
    assert any("knows none of the zh-CN pack's words" in r.getMessage()
               for r in caplog.records)


async def test_when_the_redirect_fails_the_next_keypress_gets_the_spoken_answers_turn(
        speaking_hotline):
    """The carrier refused the REST update (500): the caller still hears the consent
    prompt, but their consent was taken; any key then moves them to the trades menu."""
    call = await speaking_hotline.carrier.place_call(CALLER)
    speaking_hotline.carrier.faults.fail_next()
    assert not await speak(call, "예", wait=2)
    await call.press("2")  # would decline consent, but the spoken 예 already counted
    assert "请选您会的工种" in call.new_prompts()[-1]
    async with speaking_hotline.app[SESSIONS]() as session:
        worker = await session.scalar(select(Worker).where(Worker.phone == CALLER))
    assert worker is not None and worker.consent_call_sid == call.sid
