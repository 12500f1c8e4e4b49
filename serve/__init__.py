"""The riskml HTTP service (CONTRACT.md section 3): FastAPI app, routes, settings."""
