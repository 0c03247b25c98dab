"""``fujo synth``: a deterministic, seeded, national-scale synthetic data set loaded straight into
the database (generator.py builds the rows, load.py writes them in bulk, cli.py is the command)."""
