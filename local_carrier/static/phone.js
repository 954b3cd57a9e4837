// The browser phone: two simulated phones calling and texting the hotline through the
// local carrier's phone routes (/phones/...). Plain script, no build step, no libraries.
// Everything the hotline or a person wrote is shown with textContent, never as HTML.
"use strict";

const KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"];
const SMS_POLL_MS = 1000;  // the inbox updates by itself
const CALL_POLL_MS = 1500;  // the hotline can move a call on by itself (hold, transfer)
const RECORD_SECONDS = "3";
const TIMED_OUT = null;  // in the key queue: the Gather's timeout passed

const voice = {
  on: true,
  say(text) {
    if (!this.on || !("speechSynthesis" in window)) return;
    const utterance = new SpeechSynthesisUtterance(text);
    utterance.lang = "zh-CN";
    window.speechSynthesis.speak(utterance);
  },
  quiet() {
    if ("speechSynthesis" in window) window.speechSynthesis.cancel();
  },
};

// The caller's voice for a hotline with speech on: the microphone, through an AudioWorklet
// (microphone.js: 8 kHz μ-law, 20 ms frames), over a WebSocket to the local carrier, which
// forwards it to the media streams the call has open, as Twilio would.
class Microphone {
  constructor() {
    this.socket = null;
    this.context = null;
    this.media = null;
  }

  get on() {
    return this.socket !== null;
  }

  async start(callUrl, onClosed) {
    this.context = new AudioContext();  // the device's rate: the worklet resamples
    await this.context.audioWorklet.addModule("/phone/microphone.js");
    // The encoder is ready before the microphone opens: opened first, the microphone lost
    // the start of the first word while the worklet loaded.
    this.media = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1 } });
    const source = this.context.createMediaStreamSource(this.media);
    // No outputs: nothing is played back, and Chrome still pulls audio through it.
    const encoder = new AudioWorkletNode(this.context, "mulaw-8k", { numberOfOutputs: 0 });
    const url = new URL(`${callUrl}/microphone`, window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    this.socket = new WebSocket(url);
    this.socket.binaryType = "arraybuffer";
    this.socket.addEventListener("close", () => {
      this.stop();
      onClosed();
    });
    // Frames from before the socket opens wait for it: the first word is not clipped.
    const early = [];
    this.socket.addEventListener("open", () => {
      for (const frame of early.splice(0)) this.socket.send(frame);
    });
    encoder.port.onmessage = (event) => {
      if (!this.socket) return;
      if (this.socket.readyState === WebSocket.CONNECTING) early.push(event.data);
      else if (this.socket.readyState === WebSocket.OPEN) this.socket.send(event.data);
    };
    source.connect(encoder);
  }

  stop() {
    const socket = this.socket;
    this.socket = null;
    if (socket && socket.readyState <= WebSocket.OPEN) socket.close();
    if (this.media) this.media.getTracks().forEach((track) => track.stop());
    if (this.context) this.context.close();
    this.media = null;
    this.context = null;
  }
}

async function ask(method, url, form) {
  const options = { method, headers: { Accept: "application/json" } };
  if (form) options.body = new URLSearchParams(form);
  const response = await fetch(url, options);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(data.message || `${response.status} ${response.statusText}`);
  }
  return data;
}

class Phone {
  constructor(root, { title, number, name }) {
    this.root = root;
    root.dataset.phone = name;
    this.part = (role) => root.querySelector(`[data-role="${role}"]`);
    this.part("title").textContent = title;
    this.part("number").value = number;
    this.view = null;  // the call as the carrier last showed it
    this.callUrl = null;
    this.shown = 0;  // prompts already on the screen
    this.typed = "";  // keys the current Gather has collected so far
    this.queue = [];  // keys pressed while the carrier was busy with earlier ones
    this.inFlight = 0;  // requests about the call not answered yet
    this.pumping = false;
    this.timer = null;
    this.smsSeen = new Set();
    this.microphone = new Microphone();
    this.buildKeypad();
    this.part("microphone").addEventListener("click", () => this.toggleMicrophone());
    this.part("call").addEventListener("click", () => this.dial());
    this.part("hangup").addEventListener("click", () => this.act("hang_up", ""));
    this.part("record").addEventListener("click", () => this.act("record", RECORD_SECONDS));
    this.part("reply").addEventListener("submit", (event) => {
      event.preventDefault();
      this.text();
    });
    this.part("number").addEventListener("change", () => this.resetSms());
    window.setInterval(() => this.refreshSms(), SMS_POLL_MS);
    window.setInterval(() => this.refreshCall(), CALL_POLL_MS);
    this.refreshSms();
  }

  number() {
    return this.part("number").value.trim();
  }

  async toggleMicrophone() {
    const button = this.part("microphone");
    if (this.microphone.on) {
      this.microphone.stop();
    } else if (this.inCall()) {
      try {
        await this.microphone.start(this.callUrl, () => this.show(null));
      } catch (error) {
        this.microphone.stop();
        this.showError(`麦克风用不了 No microphone: ${error.message}`);
      }
    }
    button.setAttribute("aria-pressed", String(this.microphone.on));
  }

  phoneUrl() {
    return `/phones/${encodeURIComponent(this.number())}`;
  }

  buildKeypad() {
    const pad = this.part("keypad");
    for (const key of KEYS) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = key;
      button.dataset.key = key;
      button.setAttribute("aria-label", `按键 ${key}`);
      button.addEventListener("click", () => this.press(key));
      pad.append(button);
    }
  }

  showError(message) {
    const error = this.part("error");
    error.textContent = message;
    error.hidden = !message;
  }

  inCall() {
    return this.view !== null && !this.view.ended;
  }

  async dial() {
    if (this.inCall()) return;
    this.showError("");
    this.view = null;
    this.callUrl = null;
    this.part("prompts").replaceChildren();
    this.shown = 0;
    this.typed = "";
    this.queue = [];
    this.inFlight += 1;
    this.show(null, "正在拨号… Dialling…");
    try {
      const view = await ask("POST", `${this.phoneUrl()}/calls`);
      this.callUrl = `${this.phoneUrl()}/calls/${encodeURIComponent(view.sid)}`;
      this.show(view);
    } catch (error) {
      this.showError(error.message);
      this.show(null);
    } finally {
      this.inFlight -= 1;
    }
  }

  // A key goes into the current Gather; the digits go to the carrier when the Gather would
  // take them (numDigits reached, its finish key, or its timeout), as Twilio collects them.
  // Keys pressed while the carrier is busy wait their turn, as a phone's keys would.
  press(key) {
    if (!this.inCall()) {
      this.showError("先拨打热线 Call the hotline first");
      return;
    }
    this.queue.push(key);
    this.pump();
  }

  async pump() {
    if (this.pumping) return;  // the running pump takes the new keys in turn
    this.pumping = true;
    try {
      while (this.queue.length > 0 && this.inCall()) {
        const key = this.queue.shift();
        window.clearTimeout(this.timer);
        if (key === TIMED_OUT) {
          await this.sendTyped();
          continue;
        }
        this.typed += key;
        this.part("typed").value = this.typed;
        // No keypad: the call is not at a keypad prompt; the carrier says why (a 409).
        const keypad = this.view.keypad;
        const complete = !keypad ||
          (keypad.finish_on_key !== "" && keypad.finish_on_key.includes(key)) ||
          (keypad.num_digits !== null && this.typed.length >= keypad.num_digits);
        if (complete) {
          await this.sendTyped();
        } else {
          this.timer = window.setTimeout(() => {
            this.queue.push(TIMED_OUT);
            this.pump();
          }, keypad.timeout * 1000);
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  async sendTyped() {
    const keys = this.typed;
    this.typed = "";
    this.part("typed").value = "";
    if (keys) await this.act("press", keys);
  }

  async act(action, argument) {
    if (!this.callUrl) return;
    if (action === "hang_up") {
      window.clearTimeout(this.timer);
      this.queue = [];
      this.typed = "";
      this.part("typed").value = "";
      voice.quiet();
    }
    this.showError("");
    this.inFlight += 1;
    try {
      this.show(await ask("POST", this.callUrl, { action, argument }));
    } catch (error) {
      this.showError(error.message);
    } finally {
      this.inFlight -= 1;
    }
  }

  async refreshCall() {
    if (!this.inCall() || this.inFlight || this.pumping || this.typed) return;
    try {
      const view = await ask("GET", this.callUrl);
      if (!this.inFlight && !this.pumping) this.show(view);
    } catch (error) {
      this.showError(error.message);
    }
  }

  show(view, status) {
    if (view) {
      this.view = view;
      const list = this.part("prompts");
      for (const text of view.prompts.slice(this.shown)) {
        const item = document.createElement("li");
        item.textContent = text;
        list.append(item);
        voice.say(text);
      }
      this.shown = view.prompts.length;
      list.scrollTop = list.scrollHeight;  // the newest prompt in sight, the page kept still
    }
    const live = this.inCall();
    this.part("call").disabled = live;
    this.part("hangup").disabled = !live;
    this.part("number").disabled = live;
    this.part("record").hidden = !(live && this.view.waiting_for === "record");
    this.root.classList.toggle("live", live);
    if (!live && this.microphone.on) this.microphone.stop();
    this.part("microphone").disabled = !live;
    this.part("microphone").setAttribute("aria-pressed", String(this.microphone.on));
    this.part("listening").textContent = live && this.view.listening ?
      "热线在听，可以直接说 The hotline is listening" : "";
    this.part("status").textContent = status || this.describe();
  }

  describe() {
    if (!this.view) return "未通话 Not in a call";
    if (this.view.ended) return `通话结束 Call ended (${this.view.status}, ${this.view.duration}s)`;
    const waiting = {
      gather: "请按键 Press keys",
      record: "请说出姓名，然后按录音 Say your name: press Record",
      queue: "排队等候 Waiting in a queue",
      stream: "连接中 Connected to a stream",
      hold: "请稍候 On hold",
    }[this.view.waiting_for];
    return `通话中 In a call · ${waiting || "…"}`;
  }

  async text() {
    const input = this.part("body");
    const body = input.value;
    this.showError("");
    try {
      await ask("POST", `${this.phoneUrl()}/sms`, { body });
      input.value = "";
    } catch (error) {
      this.showError(error.message);
    }
    this.refreshSms();
  }

  resetSms() {
    this.smsSeen.clear();
    this.part("sms").replaceChildren();
    this.refreshSms();
  }

  async refreshSms() {
    if (!this.number()) return;
    const asked = this.number();
    let thread;
    try {
      thread = await ask("GET", `${this.phoneUrl()}/messages`);
    } catch (error) {
      return;  // a number being typed: the error shows when it is used
    }
    if (asked !== this.number()) return;
    const list = this.part("sms");
    for (const sms of thread) {
      if (this.smsSeen.has(sms.sid)) continue;
      this.smsSeen.add(sms.sid);
      const item = document.createElement("li");
      item.className = sms.way;
      const who = document.createElement("span");
      who.className = "who";
      who.textContent = sms.way === "sent" ? `我 → ${sms.to}` : `${sms.from} →`;
      const body = document.createElement("span");
      body.className = "body";
      body.textContent = sms.body;
      item.append(who, body);
      list.append(item);
      list.scrollTop = list.scrollHeight;
    }
  }
}

async function start() {
  const speak = document.getElementById("speak-aloud");
  voice.on = speak.checked;
  speak.addEventListener("change", () => {
    voice.on = speak.checked;
    if (!voice.on) voice.quiet();
  });
  const template = document.getElementById("phone-template");
  const holder = document.getElementById("phones");
  for (const phone of JSON.parse(holder.dataset.phones)) {
    const section = template.content.firstElementChild.cloneNode(true);
    holder.append(section);
    new Phone(section, phone);
  }
  try {
    const about = await ask("GET", "/phones");
    document.getElementById("hotline-number").textContent = about.hotline_number;
  } catch (error) {
    document.getElementById("hotline-number").textContent = error.message;
  }
}

document.addEventListener("DOMContentLoaded", start);
