"""Channel exercises: a deterministic discrete-event simulation of hotline stations.

Scenario files (TOML) describe stations, doctrine, responder behaviour, the network, a
script of events and expectations; `run_exercise` runs one, seeded, in virtual time,
with the same `hotline.core` endpoints a live station uses.
"""
