"""Speech for one process: the model (loaded once), a thread pool to decode in (Vosk
releases the GIL; the event loop never decodes; the chunk a caller waits on goes first:
speech.decoding_pool) and a count of the recognisers alive."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

from prompts.speech_words import SpeechWords, UnknownSpeechPack, load_speech_words
from speech.decoding_pool import DecodingPool
from speech.recognizer import GrammarRecognizer, Heard, SpeechModel, SpeechUnavailable

log = logging.getLogger(__name__)


class Speech:
    def __init__(self, model: SpeechModel, words: SpeechWords, threads: int):
        self.model, self.words = model, words
        self._pool = DecodingPool(threads, "vosk")
        self._made = 0  # counted on the event loop
        self._freed = 0  # counted on the decoding threads
        self._freed_lock = threading.Lock()

    @property
    def open_recognizers(self) -> int:
        """Recognisers made and not freed yet: tests and the benchmark check none leaks."""
        return self._made - self._freed

    async def recognizer(self, grammar: list[str], settled_ms: float) -> GrammarRecognizer:
        recognizer = await asyncio.wrap_future(
            self._pool.submit(GrammarRecognizer, self.model, grammar, settled_ms))
        self._made += 1
        return recognizer

    def release(self, recognizer: GrammarRecognizer) -> None:
        """Frees a recogniser on a decoding thread, without waiting: under load Kaldi's
        free of a used decoder held the event loop as long as a caller's turn. Once: a
        second release of the same one does nothing."""
        if not recognizer.released:
            recognizer.released = True
            try:
                self._pool.submit(self._free, recognizer)
            except RuntimeError:  # the pool has shut down (the hotline is stopping)
                self._free(recognizer)

    def _free(self, recognizer: GrammarRecognizer) -> None:
        if recognizer.close():
            with self._freed_lock:
                self._freed += 1

    async def hear(self, recognizer: GrammarRecognizer, mulaw: bytes) -> Heard | None:
        """Decode a chunk of the caller's μ-law audio; what was said once they stop. A
        chunk that ends the utterance is decoded before those of callers still speaking."""
        urgent = recognizer.would_end_utterance(mulaw)
        return await asyncio.wrap_future(self._pool.submit(recognizer.accept, mulaw,
                                                           urgent=urgent))

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def start_speech(model_path: str | None, language: str, threads: int,
                 words_said: Callable[[SpeechWords], list[str]],
                 model: SpeechModel | None = None) -> Speech | None:
    """Speech for the market, or None (said once in the log, why): the hotline then runs
    by keypad exactly as before. `words_said` gives every word callers may say with the
    pack (the market's trades and towns added), which the model must know. `model` lets
    tests share one loaded model."""
    if model is None and not model_path:
        log.info("speech is off: no Vosk model configured (set VOSK_MODEL_PATH to an "
                 "unpacked model, e.g. vosk-model-small-cn-0.22); callers use the keypad")
        return None
    try:
        words = load_speech_words(language)
    except UnknownSpeechPack as exc:
        log.warning("speech is off: %s", exc)
        return None
    if model is None:
        try:
            model = SpeechModel(model_path)
        except SpeechUnavailable as exc:
            log.warning("speech is off: %s; callers use the keypad", exc)
            return None
    said = words_said(words)
    missing = model.missing_words(said)
    if len(missing) == len(said):
        log.warning("speech is off: the model at %s knows none of the %s pack's words (is it "
                    "a %s model?); callers use the keypad", model_path, language, language)
        return None
    if missing:
        log.warning("%d spoken words are not in the %s model and will not be heard: %s",
                    len(missing), language, " ".join(missing))
    log.info("speech is on: %s model at %s, %d decoding threads", language,
             model_path or "(given)", threads)
    return Speech(model, words, threads)
