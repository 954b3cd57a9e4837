"""Small neutral modules every layer may use: the market clock, phone numbers, ID-card and
credit-code checks. They import nothing of Gigline."""
