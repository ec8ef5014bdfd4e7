# syntax=docker/dockerfile:1
# The ragchaos project image: every ragchaos server (provider, the apps), the runner and
# Locust run from it (compose.yaml). Toxiproxy, Chroma, Redis and nginx use their own images.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ANONYMIZED_TELEMETRY=False

WORKDIR /app

# Dependencies first, read from pyproject.toml, so a change to the code alone reuses this layer.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Then the project itself (the parts and their package data: built-in scenarios).
COPY README.md ./
COPY ragchaos ./ragchaos
RUN pip install --no-deps . \
    && useradd --create-home --uid 10001 ragchaos \
    && mkdir -p /runs /data \
    && chown ragchaos:ragchaos /runs /data

# Not root: nothing here needs it. /runs holds run folders, /data an app's local state.
USER ragchaos

CMD ["ragchaos", "--help"]
