"""The command language both drivers share: commands, their one canonical encoding, apply(), the ledger."""
