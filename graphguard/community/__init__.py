"""Community detection on the account graph and the evidence that scores each community."""
