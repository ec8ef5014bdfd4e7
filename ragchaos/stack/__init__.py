"""The system under test and what it runs on: starting and stopping the local stack (provider,
fault proxy, Chroma, the apps or a user's target), the docker backend, a private Redis, target
descriptions and their request templates, and the OTLP receiver for a target's spans."""
