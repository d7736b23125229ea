"""Partner integration (flows layer): signed webhooks (`integration.webhooks`), bulk imports of households and of
the programme's history."""
