"""Measurement: HDR histograms, the stage vocabulary and recorder, and the mechanism metrics.

Used by the provider, the reference app and the harness; it imports nothing else of ragchaos."""
