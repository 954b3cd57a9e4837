"""The carrier edge: webhooks, TwiML, the SMS carrier and the local stand-in for Twilio.
The only package that imports `twilio`."""
