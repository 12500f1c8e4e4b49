"""The riskml HTTP service (CONTRACT.md section 3): FastAPI app, routes, settings.

Quick start (embedded defaults: SQLite store ``riskml-store.db`` and secret ``riskml-secret.key``
in the working directory; ``RISKML_STORE_URL`` / ``RISKML_SECRET`` in production)::

    riskml ingest --data DIR                      # history the online features read
    riskml keys create --role scorer --name app   # printed once; only a keyed hash is stored
    riskml serve --port 8000                      # live at once, ready when the model loads
    curl -s localhost:8000/readyz
    curl -s -H "Authorization: Bearer $KEY" -H 'content-type: application/json' \\
        -d '{"claims": [{"claim_id": "N1", "person_id": "...", "benefit_type": "outpatient",
             "provider_id": "...", "employer_id": null, "region_code": "110105",
             "submitted_at": "2024-05-01T09:00:00", "service_start": "2024-05-01",
             "service_end": "2024-05-01", "diagnosis_code": "J06.9", "amount_claimed": 480,
             "channel": "provider_direct", "items": []}]}' \\
        localhost:8000/v1/claims/score

Roles: ``scorer`` scores; ``investigator`` and ``supervisor`` read ``/v1/queue`` and record
decisions; ``admin`` does everything. ``/healthz``, ``/readyz`` and ``/metrics`` need no key.
Settings (``RISKML_*``): see :class:`serve.settings.Settings`.
"""
