"""What every part of the harness stands on: loopback ports, supervised processes, the CLI's
error type, and the name registry. Imports nothing else of ragchaos."""
