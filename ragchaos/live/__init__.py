"""The live workshop view: both apps side by side in a browser, load and faults at a click.

``ragchaos up`` (``live/up.py``) and ``ragchaos run SCENARIO --live`` (``live/runlive.py``) serve
one page on 127.0.0.1 (``live/server.py``) fed once a second by ``live/session.py``. docs/live.md
describes the page, its figures and its defences.
"""
