"""Speech: offline Mandarin recognition with Vosk over Twilio Media Streams.

Not built yet (the speech issue): until then every prompt works by keypad alone."""
