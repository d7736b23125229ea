"""Reference data over HTTP (ROME codes): read only, for the roles that record profiles and job openings."""
