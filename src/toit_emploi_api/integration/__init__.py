"""Partner integration (flows layer): bulk imports of households and of the programme's history, webhooks."""
