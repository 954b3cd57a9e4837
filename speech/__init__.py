"""Speech: offline Mandarin recognition with Vosk over Twilio Media Streams.

Built so far (the speech issue is open): μ-law decoding and the Mandarin text handling
that turns what Vosk heard into the same answers keys give. The recogniser, the media
socket and the flows' use of speech come next."""
