"""Read model: the programme's outcomes (the funders' table, the funnel and stage durations). Writes nothing."""
