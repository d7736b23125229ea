"""Reference data over HTTP (ROME codes): read only, for every authenticated caller."""
