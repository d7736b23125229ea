"""Integration with partners' systems: signed webhooks (`integration.webhooks`), bulk and history imports."""
