"""The community gateway: hears wristbands and meters, decides locally, forwards upstream.

Runs on a Raspberry-Pi-class box. Must never import ``fleet`` (which needs FastAPI and
SQLAlchemy, not installed on a gateway).
"""
