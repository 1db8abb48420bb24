"""The fleet service: registry, ingest, time series, alerts and notifications, API."""
