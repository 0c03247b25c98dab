"""Web users (people who sign in for an organisation), their passwords and server-side sessions."""
