"""Web adapters: the JSON API and the station UI. Reads through `edge`, writes only through its services.

Never imports `drivers`.
"""
