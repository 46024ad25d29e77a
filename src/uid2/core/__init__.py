"""uid2.core: the pure UID2 protocol layer.

Standard library and ``cryptography`` only. No I/O, no environment, no clock reads: every
function that needs time or randomness takes them as arguments (``now_ms``, ``nonce``, ``iv``).
"""
