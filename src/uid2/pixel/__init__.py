"""uid2.pixel: the pixel receiver a DSP, advertiser or data provider deploys.

Tracking and creative pixels carry UID2 tokens (never raw UID2s) to ``/px/{kind}``; the
receiver decrypts them with the sender's shared keys and stores each event durably before it
answers. ``static/uid2-pixel.js`` is the browser side of the sender kit.
"""
