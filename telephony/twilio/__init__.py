"""Twilio's side of the channel: its form fields, status words, TwiML, Media Streams JSON,
`X-Twilio-Signature` and REST API. The only package that imports `twilio`."""
