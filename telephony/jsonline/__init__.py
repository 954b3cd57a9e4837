"""JSON Line: a minimal carrier protocol of our own, JSON over HTTP, written only against
the hotline's channel and carrier interfaces. It proves a carrier is added here without
touching dialogues, rules or the store (the end-to-end tests run over it and Twilio
alike), and it is the shape a domestic gateway's adapter takes.

Webhooks (the carrier to us), each a POST of a JSON object, signed with
`X-Line-Signature: hex(HMAC-SHA256(secret, url + "\\n" + body))`:
- `/jsonline/voice` `{"call", "from", "to"}`: a call to the hotline starts;
- `/jsonline/voice/<subject>?<id>=N`: a call we placed was answered (`to` is the worker);
- the `next` URL of a step: `{"call", "from", "to", "keys"}` after an `ask` (keys "" on
  silence), or `{..., "recording": {"url", "seconds", "ended_by"}}` after a `record`;
- `/jsonline/sms` `{"id", "from", "to", "text"}`;
- `/jsonline/status` `{"message", "state", "error"}` or `{"call", "state"}`.
A voice webhook is answered `{"steps": [...]}`, run in order: `{"say": text}`,
`{"ask": {"say": [...], "keys": n, "end_key", "wait": s, "next": url}}`,
`{"record": {"say": [...], "seconds": n, "end_keys", "next": url}}`,
`{"dial": [numbers]}`, `{"hangup": {}}`.

The REST side (us to the carrier) is in rest.py."""
