#!/usr/bin/env bash
# Korean test utterances for the speech tests, spoken by espeak-ng and stored as Twilio
# streams them: raw 8 kHz mono μ-law. Needs Debian's espeak-ng and sox:
#   apt-get install espeak-ng sox && bash scripts/make_speech_fixtures.sh
# The fixtures are small and committed, so the tests themselves need neither tool.
set -euo pipefail
out="$(dirname "$0")/../tests/fixtures/speech/ko"
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for word in 일 이 삼 사 오 예 아니요; do
  espeak-ng -v ko -w "$tmp/$word.wav" "$word"
  sox "$tmp/$word.wav" -r 8000 -c 1 -e mu-law -t raw "$out/$word.ulaw"
done
ls -l "$out"
