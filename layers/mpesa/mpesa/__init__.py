"""Domain package shared by every Lambda: markets, money, result codes, Daraja client, ledger."""
