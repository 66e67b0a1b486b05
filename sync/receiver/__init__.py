"""The HQ receiver: a FastAPI app (`app.create_app`) over a PostgreSQL store (`store.PgStore`)."""
