"""Administration endpoints: organisations, users and API clients (admin only), over the accounts service."""
