"""The HTTP and webhook edge shared by every handler: observability, body reading, errors → statuses,
caller identity, and callback authentication (signed URLs, source allowlist)."""
