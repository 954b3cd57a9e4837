// An AudioWorklet for the browser phone's microphone: the device's audio, resampled to
// 8 kHz and encoded as G.711 μ-law, posted in 20 ms frames (160 bytes), which is what
// Twilio's Media Streams carry and what the local carrier forwards to the hotline.
"use strict";

const RATE = 8000;
const FRAME = 160;

// G.711 μ-law of a sample in [-1, 1] (the table speech/mulaw.py decodes).
function mulaw(sample) {
  const BIAS = 0x84;
  const CLIP = 32635;
  let value = Math.round(Math.max(-1, Math.min(1, sample)) * 32767);
  const sign = value < 0 ? 0x80 : 0;
  if (sign) value = -value;
  value = Math.min(value, CLIP) + BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (value & mask) === 0 && exponent > 0; exponent -= 1, mask >>= 1) {
    // the exponent is the position of the highest bit set
  }
  const mantissa = (value >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

class MulawAt8k extends AudioWorkletProcessor {
  constructor() {
    super();
    this.step = sampleRate / RATE;  // device samples per 8 kHz sample
    this.sum = 0;  // the device samples under the 8 kHz sample being made (a box filter)
    this.count = 0;
    this.due = this.step;
    this.position = 0;
    this.frame = new Uint8Array(FRAME);
    this.filled = 0;
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    for (const sample of channel) {
      this.sum += sample;
      this.count += 1;
      this.position += 1;
      if (this.position >= this.due) {
        this.due += this.step;
        this.frame[this.filled] = mulaw(this.sum / this.count);
        this.filled += 1;
        this.sum = 0;
        this.count = 0;
        if (this.filled === FRAME) {
          this.port.postMessage(this.frame.slice().buffer);
          this.filled = 0;
        }
      }
    }
    return true;
  }
}

registerProcessor("mulaw-8k", MulawAt8k);
